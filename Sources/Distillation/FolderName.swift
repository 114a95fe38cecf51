import Foundation

/// Names that become folders and job names (a study's `results/<name>/`, a student's run folder):
/// ASCII letters, digits, '.', '_' and '-', not starting with '.', at most 100 characters. A name
/// from a shared file can then never leave its folder (`..`, `/`), hide (`.name`), or carry a
/// shell or Slurm character (space, quote, `$`, newline) into a script. The pipeline schema's
/// `folderName` is the same rule (a test checks the two agree).
public enum FolderName {
    public static let maxLength = 100

    /// Why `name` cannot name a folder, or nil when it can.
    public static func problem(_ name: String) -> String? {
        if name.isEmpty { return "is empty" }
        if name.utf8.count > maxLength { return "is \(name.utf8.count) bytes long (at most \(maxLength))" }
        if name.hasPrefix(".") { return "starts with '.'" }
        if let bad = name.unicodeScalars.first(where: { !isAllowed($0) }) {
            return "has \(describe(bad)); only letters a-z A-Z, digits, '.', '_' and '-' are allowed"
        }
        return nil
    }

    public static func isAllowed(_ c: Unicode.Scalar) -> Bool {
        c.isASCII && (("a"..."z").contains(c) || ("A"..."Z").contains(c) || ("0"..."9").contains(c) || c == "." || c == "_" || c == "-")
    }

    /// A character as an error message can show it: printable ones quoted, others by code point.
    public static func describe(_ c: Unicode.Scalar) -> String {
        c.isASCII && c.value >= 0x21 && c.value < 0x7F ? "'\(c)'" : String(format: "U+%04X", c.value)
    }
}
