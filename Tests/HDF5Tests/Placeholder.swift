import XCTest

final class HDF5TestsPlaceholder: XCTestCase {}
