import XCTest

final class SafeTensorsTestsPlaceholder: XCTestCase {}
