import XCTest

final class TokenizationTestsPlaceholder: XCTestCase {}
