import Distillation
import Foundation

/// The rules for every value that goes into a generated batch script (docs/reliability.md,
/// "Scripts, commands and paths"). A pipeline file is untrusted: what it says may only reach an
/// `#SBATCH` line when it matches Slurm's own name rules, and paths reach the command line
/// single-quoted and without control characters, so every line of a script is a template line.
enum ScriptValues {
    /// Slurm partition and account names: letters, digits, '_', '-' and '.'; a partition may
    /// be a comma-separated list (`sbatch --partition=a,b`). At most 64 characters each.
    static func slurmName(_ value: String, field: String, list: Bool = false) throws {
        let names = list ? value.split(separator: ",", omittingEmptySubsequences: false).map(String.init) : [value]
        for name in names {
            if name.isEmpty || name.utf8.count > 64 {
                throw PipelineError.invalid("\(field): \(shown(value)) must be 1 to 64 characters\(list ? " per comma-separated name" : "")")
            }
            if let bad = name.unicodeScalars.first(where: { !FolderName.isAllowed($0) }) {
                throw PipelineError.invalid("\(field): \(shown(value)) has \(FolderName.describe(bad)); a Slurm \(field.split(separator: ".").last ?? "") name is letters, digits, '_', '-' and '.'\(list ? " (a list is separated by ',')" : "")")
            }
        }
    }

    /// A path written single-quoted on a command line or in a comment: any character but the
    /// control characters (a newline would start a line of its own), at most 4,096 bytes.
    static func quotablePath(_ value: String, field: String) throws {
        if value.isEmpty || value.utf8.count > 4096 { throw PipelineError.invalid("\(field): \(shown(value)) must be 1 to 4,096 bytes") }
        if let bad = value.unicodeScalars.first(where: { $0.properties.generalCategory == .control }) {
            throw PipelineError.invalid("\(field): \(shown(value)) has the control character \(FolderName.describe(bad)), which a batch script cannot hold")
        }
    }

    /// A path on an `#SBATCH` line (`--chdir`, `--output`), which sbatch splits at spaces and
    /// where '%' starts a file-name pattern: letters, digits and `/ . _ - + , = @` only.
    static func sbatchPath(_ value: String, field: String) throws {
        try quotablePath(value, field: field)
        if let bad = value.unicodeScalars.first(where: { !(FolderName.isAllowed($0) || "/+,=@".unicodeScalars.contains($0)) }) {
            throw PipelineError.invalid("\(field): \(shown(value)) has \(FolderName.describe(bad)), which an #SBATCH line cannot hold safely; use a folder whose path is letters, digits and / . _ - + , = @")
        }
    }

    /// A value as an error shows it: escaped, and cut after 80 characters.
    static func shown(_ value: String) -> String {
        value.count > 80 ? String(value.prefix(80)).debugDescription + "… (\(value.utf8.count) bytes)" : value.debugDescription
    }
}
