import Foundation
import Hashing
import TeacherCache

/// Checks that a teacher folder given next to a cache is the teacher the cache was built with:
/// students copy its layers and export its vocabulary, so another model or vocabulary would
/// silently teach the wrong thing. Hashes are remembered per file (`RememberedHash`), so a group
/// of students hashes the teacher once.
enum TeacherIdentity {
    static func check(_ folder: URL, is teacher: CacheProvenance.Teacher, cache: URL) throws {
        let vocabulary: String
        do { vocabulary = try VocabularyIdentity.sha256(of: folder) } catch {
            throw DistillationError.io("cannot read the tokenizer of \(folder.path): \(error)")
        }
        guard vocabulary == teacher.vocabularySHA256 else {
            throw DistillationError.incompatible("the vocabulary in \(folder.path) differs from the one \(cache.path) was built with (sha256 \(vocabulary.prefix(12))… vs \(teacher.vocabularySHA256.prefix(12))…)")
        }
        let weights = try sha256(folder.appendingPathComponent("model.safetensors"))
        guard weights == teacher.weightsSHA256 else {
            throw DistillationError.incompatible("\(folder.path) is not the teacher \(cache.path) was built with (weights sha256 \(weights.prefix(12))… vs \(teacher.weightsSHA256.prefix(12))…, built from \(teacher.path))")
        }
    }

    private static func sha256(_ file: URL) throws -> String {
        do { return try RememberedHash.file(at: file) } catch {
            throw DistillationError.io("cannot read \(file.path): \(error)")
        }
    }
}
