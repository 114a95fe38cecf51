"""Opens a Distillery study report in headless Chromium and checks what a reader would see.

The Swift test suite (ReportsTests/ReportBrowserTests) runs it on a sample study's report; run it
by hand on any report:

  python3 scripts/check_report.py results/demo/report.html [--screenshot OUT.png] [--width 1300] [--expect-rows N]

Drives Chromium over the DevTools Protocol on a pipe (--remote-debugging-pipe: commands on fd 3,
responses on fd 4, each message JSON ending in a NUL byte), standard library only. Checks, one
line each: no console errors, JS exceptions or error log entries; every chart (<svg>) has a
non-empty box; the results table has N data rows (--expect-rows); no table is wider than its
container and the page has no horizontal scroll; no accuracy-like axis (accuracy, F1, Matthews,
cosine) runs past its metric's range. Saves a full-page screenshot (default: the report's name
with .png). Exits 1 naming each failed check, 2 when the browser cannot be driven.
"""
import argparse
import base64
import fcntl
import json
import os
import pathlib
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import time

CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
TIMEOUT = 60.0  # seconds for everything, so a hung browser never hangs the caller


class BrowserError(Exception):
    pass


class Browser:
    """Chromium on a DevTools pipe, one page attached (flat session)."""

    def __init__(self, profile, log, width):
        self.deadline = time.monotonic() + TIMEOUT
        commands_r, self.commands = os.pipe()
        self.responses, responses_w = os.pipe()
        # Chromium expects the pipe on fds 3 and 4 exactly: the child moves it there from copies
        # at 10 or above, so that neither dup2 overwrites the other's source. Every other fd of
        # ours is close-on-exec, so close_fds=False hands the browser only these two.
        high_r = fcntl.fcntl(commands_r, fcntl.F_DUPFD_CLOEXEC, 10)
        high_w = fcntl.fcntl(responses_w, fcntl.F_DUPFD_CLOEXEC, 10)

        def to_fds_3_and_4():
            os.dup2(high_r, 3)
            os.dup2(high_w, 4)

        args = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--no-first-run", "--no-default-browser-check", "--disable-extensions", "--mute-audio",
                f"--window-size={width},900", f"--user-data-dir={profile}", "--remote-debugging-pipe", "about:blank"]
        # A session of its own, so that closing kills the browser's helper processes too.
        self.process = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=log, stderr=log, close_fds=False,
                                        preexec_fn=to_fds_3_and_4, start_new_session=True)
        for fd in (commands_r, responses_w, high_r, high_w):
            os.close(fd)
        self.buffer, self.next_id, self.events = b"", 0, []
        self.session = None

    def close(self):
        """Asks the browser to quit (it then stops its crash handler too), then kills what is left."""
        try:
            if self.process.poll() is None:
                self.send("Browser.close", session=False)
                self.process.wait(timeout=5)
        except (BrowserError, subprocess.TimeoutExpired):
            pass
        for fd in (self.commands, self.responses):
            try:
                os.close(fd)
            except OSError:
                pass
        try:
            os.killpg(self.process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.process.wait()

    def send(self, method, params=None, session=True):
        """Sends a command and returns its result; events that arrive meanwhile go to `events`."""
        self.next_id += 1
        message = {"id": self.next_id, "method": method, "params": params or {}}
        if session and self.session:
            message["sessionId"] = self.session
        try:
            os.write(self.commands, json.dumps(message).encode() + b"\0")
        except OSError as e:
            raise BrowserError(f"cannot send {method} (exit status {self.process.poll()}): {e}")
        while True:
            reply = self.receive()
            if reply.get("id") == self.next_id:
                if "error" in reply:
                    raise BrowserError(f"{method}: {reply['error'].get('message')}")
                return reply.get("result", {})
            self.events.append(reply)

    def wait_for(self, method, after):
        """Waits for an event that arrives after the first `after` events."""
        while not any(e.get("method") == method for e in self.events[after:]):
            self.events.append(self.receive())

    def receive(self):
        while b"\0" not in self.buffer:
            left = self.deadline - time.monotonic()
            if left <= 0:
                raise BrowserError(f"no answer from the browser within {TIMEOUT:.0f} s")
            ready, _, _ = select.select([self.responses], [], [], left)
            if not ready:
                continue
            chunk = os.read(self.responses, 1 << 20)
            if not chunk:
                raise BrowserError(f"the browser closed the pipe (exit status {self.process.poll()})")
            self.buffer += chunk
        message, self.buffer = self.buffer.split(b"\0", 1)
        return json.loads(message)

    def evaluate(self, expression):
        result = self.send("Runtime.evaluate", {"expression": expression, "returnByValue": True})
        if "exceptionDetails" in result:
            raise BrowserError(f"evaluating a check failed: {result['exceptionDetails'].get('text')}")
        return result["result"].get("value")


def open_page(browser, url, width):
    """Attaches to a new page, sets a `width` px viewport, loads `url` and waits for its load event."""
    target = browser.send("Target.createTarget", {"url": "about:blank"})["targetId"]
    browser.session = browser.send("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
    for domain in ("Page", "Runtime", "Log"):
        browser.send(f"{domain}.enable")
    browser.send("Emulation.setDeviceMetricsOverride", {"width": width, "height": 900, "deviceScaleFactor": 1, "mobile": False})
    before = len(browser.events)
    browser.send("Page.navigate", {"url": url})
    browser.wait_for("Page.loadEventFired", after=before)


def page_errors(events):
    """Console errors, uncaught exceptions and error log entries of the attached page."""
    errors = []
    for e in events:
        method, params = e.get("method"), e.get("params", {})
        if method == "Runtime.consoleAPICalled" and params.get("type") in ("error", "assert"):
            errors.append("console: " + " ".join(str(a.get("value", a.get("description", ""))) for a in params.get("args", [])))
        elif method == "Runtime.exceptionThrown":
            details = params.get("exceptionDetails", {})
            description = details.get("exception", {}).get("description", details.get("text", ""))
            errors.append(f"exception: {description.splitlines()[0]} ({details.get('url', '')}:{details.get('lineNumber', 0) + 1})")
        elif method == "Log.entryAdded" and params.get("entry", {}).get("level") == "error":
            entry = params["entry"]
            errors.append(f"log ({entry.get('source')}): {entry.get('text')} {entry.get('url', '')}".strip())
    return errors


# Each check is one expression evaluated in the page; it returns a list of problems (empty: passed).
CHART_BOXES = """
[...document.querySelectorAll('svg:not(svg svg)')].flatMap((svg, i) => {
  const box = svg.getBoundingClientRect();
  return box.width > 0 && box.height > 0 ? [] :
    [`chart ${i + 1} (${svg.getAttribute('aria-label')}) is ${box.width}×${box.height} px`];
})
"""

RESULT_ROWS = """
(() => {
  const table = document.querySelector('section#results table');
  return table ? [...table.rows].filter(row => row.querySelector('td')).length : -1;
})()
"""

# Every table fits its container and nothing scrolls sideways: scrollWidth ≤ clientWidth.
OVERFLOW = """
(() => {
  const wider = (e, what) => e.scrollWidth > e.clientWidth + 0.5 ? [`${what}: ${e.scrollWidth} px of content in ${e.clientWidth} px`] : [];
  const name = e => e.id ? `#${e.id}` : (e.closest('section') ? `section#${e.closest('section').id}` : e.tagName.toLowerCase());
  return [
    ...wider(document.documentElement, 'page'), ...wider(document.body, 'body'),
    ...[...document.querySelectorAll('.scroll')].flatMap(e => wider(e, `scrolling box in ${name(e)}`)),
    ...[...document.querySelectorAll('table')].flatMap(t => {
      const outer = t.parentElement, width = t.getBoundingClientRect().width;
      return width > outer.clientWidth + 0.5 ? [`table in ${name(t)}: ${Math.round(width)} px wide in ${outer.clientWidth} px`] : [];
    }),
  ];
})()
"""

# Chart axes whose title names a bounded metric: their y tick labels stay within its range.
AXES = """
(() => {
  const ranges = [[/matthews|mcc|cosine/, -1, 1], [/accuracy|f1/, 0, 1]];
  const axes = [...document.querySelectorAll('svg g.axes')].map(g => ({
    chart: g.closest('svg').getAttribute('aria-label'),
    title: ([...g.children].find(t => t.tagName === 'text' && (t.getAttribute('transform') || '').includes('rotate(-90)')) || {}).textContent || '',
    ticks: [...g.children].filter(t => t.tagName === 'text' && t.getAttribute('text-anchor') === 'end').map(t => parseFloat(t.textContent)),
  }));
  const problems = [];
  let bounded = 0;
  for (const axis of axes) {
    const range = ranges.find(([pattern]) => pattern.test(axis.title.toLowerCase()));
    if (!range || axis.ticks.length === 0) continue;
    bounded += 1;
    const [, lo, hi] = range, min = Math.min(...axis.ticks), max = Math.max(...axis.ticks);
    if (max > hi + 1e-9 || min < lo - 1e-9) problems.push(`"${axis.title}" in "${axis.chart}" runs ${min} to ${max}, outside [${lo}, ${hi}]`);
  }
  return {bounded, problems};
})()
"""


def screenshot(browser, path):
    """The whole page, beyond the viewport, as PNG."""
    size = browser.send("Page.getLayoutMetrics")["cssContentSize"]
    clip = {"x": 0, "y": 0, "width": size["width"], "height": size["height"], "scale": 1}
    data = browser.send("Page.captureScreenshot", {"format": "png", "captureBeyondViewport": True, "clip": clip})["data"]
    with open(path, "wb") as f:
        f.write(base64.b64decode(data))
    return size


def run_checks(browser, expect_rows):
    """(name, problems) for each check, in order."""
    checks = [("console", page_errors(browser.events)), ("charts", browser.evaluate(CHART_BOXES))]
    if expect_rows is not None:
        rows = browser.evaluate(RESULT_ROWS)
        found = "no table in section#results" if rows < 0 else f"{rows} data rows"
        checks.append(("rows", [] if rows == expect_rows else [f"{found}, expected {expect_rows}"]))
    checks.append(("overflow", browser.evaluate(OVERFLOW)))
    axes = browser.evaluate(AXES)
    checks.append(("axes", axes["problems"]))
    return checks, axes["bounded"]


def main():
    parser = argparse.ArgumentParser(description="Checks a Distillery report.html in headless Chromium.")
    parser.add_argument("report", help="the report.html to open")
    parser.add_argument("--screenshot", help="where to save the full-page PNG (default: the report's name with .png)")
    parser.add_argument("--width", type=int, default=1300, help="viewport width in CSS px (default 1300)")
    parser.add_argument("--expect-rows", type=int, help="data rows the results table must have (groups + the teacher)")
    args = parser.parse_args()
    report = os.path.abspath(args.report)
    if not os.path.isfile(report):
        print(f"check_report: no such file: {report}", file=sys.stderr)
        return 2
    if not os.access(CHROMIUM, os.X_OK):
        print(f"check_report: {CHROMIUM} not found (make setup installs chromium)", file=sys.stderr)
        return 2
    png = args.screenshot or os.path.splitext(report)[0] + ".png"

    profile = tempfile.mkdtemp(prefix="check-report-")
    log = tempfile.TemporaryFile()
    browser = Browser(profile, log, args.width)
    try:
        open_page(browser, pathlib.Path(report).as_uri(), args.width)
        checks, bounded = run_checks(browser, args.expect_rows)
        size = screenshot(browser, png)
    except BrowserError as e:
        log.seek(0)
        sys.stderr.write(log.read().decode(errors="replace")[-4000:])
        print(f"check_report: {e}", file=sys.stderr)
        return 2
    finally:
        browser.close()
        shutil.rmtree(profile, ignore_errors=True)

    for name, problems in checks:
        detail = {"axes": f" ({bounded} bounded-metric axes)"}.get(name, "")
        print(f"{'FAIL' if problems else 'ok  '} {name}{detail}" + "".join(f"\n       {p}" for p in problems))
    print(f"screenshot: {png} ({size['width']:.0f}×{size['height']:.0f} px at width {args.width})")
    failed = [name for name, problems in checks if problems]
    if failed:
        print("FAILED: " + ", ".join(failed))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
