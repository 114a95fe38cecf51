import XCTest
@testable import Distillation

/// The one parser of layer lists ("0,3,6") that cache flags, TED filter layers and student
/// initialisations share, and the layer mapping's "s:t" pairs.
final class LayerNumbersTests: XCTestCase {
    func testListsParseOrAreRefused() throws {
        XCTAssertEqual(layerNumbers("0,3,6"), [0, 3, 6])
        XCTAssertEqual(layerNumbers(" 1 , 2 "), [1, 2])
        XCTAssertEqual(layerNumbers("1,,2"), [1, 2], "empty items are skipped, as every parser this replaced did")
        for bad in ["", ",", "a", "1;2", "1.5"] { XCTAssertNil(layerNumbers(bad), bad) }
        XCTAssertEqual(try StudentSpec.Initialization(parsing: "1,3,5").description, "1,3,5")
        XCTAssertThrowsError(try StudentSpec.Initialization(parsing: "1,x"))
        XCTAssertEqual(try LayerMapping(parsing: "1:2, 2:4"), .pairs([.init(student: 1, teacher: 2), .init(student: 2, teacher: 4)]))
    }
}
