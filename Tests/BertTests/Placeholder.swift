import XCTest

final class BertTestsPlaceholder: XCTestCase {}
