import Foundation

/// Words for a POSIX shell command line (generated batch scripts, commands printed for the user
/// to paste): single quotes, inside which the shell expands nothing.
public enum ShellWords {
    /// `text` as one shell word: as it is when it is plain (letters, digits, `/ . _ - + , = @ :`),
    /// else in single quotes, each `'` written as `'\''`.
    public static func quoted(_ text: String) -> String {
        isPlain(text) ? text : "'" + text.replacingOccurrences(of: "'", with: "'\\''") + "'"
    }

    /// `text` in single quotes always (a template that keeps its shape whatever the value).
    public static func alwaysQuoted(_ text: String) -> String {
        "'" + text.replacingOccurrences(of: "'", with: "'\\''") + "'"
    }

    static func isPlain(_ text: String) -> Bool {
        !text.isEmpty && text.unicodeScalars.allSatisfy { c in
            c.isASCII && (("a"..."z").contains(c) || ("A"..."Z").contains(c) || ("0"..."9").contains(c) || "/._-+,=@:".unicodeScalars.contains(c))
        }
    }
}
