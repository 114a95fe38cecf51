import XCTest

final class TeacherCachePlaceholder: XCTestCase {}
