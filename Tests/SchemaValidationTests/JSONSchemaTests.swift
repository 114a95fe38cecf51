import Foundation
import XCTest
@testable import SchemaValidation

/// The validator on small schemas: each keyword, the paths and messages it reports, every
/// violation at once, and the keywords it refuses to skip in silence.
final class JSONSchemaTests: XCTestCase {
    /// Violations of YAML `document` against the JSON `schema`, as "path: message" lines (keys
    /// in the document's order, as `validate(contentsOf:)` reads files).
    private func violations(_ schema: String, _ document: String) throws -> [String] {
        try JSONSchema(text: schema).validate(value: try yamlValue(document, origin: "test")).map(\.description)
    }

    func testTypesTellIntegersFromNumbers() throws {
        let schema = #"{"type": "object", "properties": {"i": {"type": "integer"}, "n": {"type": "number"}, "s": {"type": "string"}, "b": {"type": "boolean"}, "l": {"type": "array"}, "o": {"type": "object"}, "z": {"type": ["string", "null"]}}}"#
        XCTAssertEqual(try violations(schema, "{i: 3, n: 3, s: x, b: true, l: [], o: {}, z: null}"), [])
        XCTAssertEqual(try violations(schema, "{i: 3.0, n: 2.5e-3, z: text}"), [], "3.0 is an integer in JSON Schema")
        XCTAssertEqual(try violations(schema, "{i: 3.5, n: '3', s: 3, b: 1, l: {}, o: [], z: 1}"), [
            "i: expected an integer", "n: expected a number", "s: expected a string", "b: expected true or false",
            "l: expected a list", "o: expected a mapping", "z: expected a string or null",
        ])
        XCTAssertEqual(try violations(#"{"type": "object"}"#, "- 1"), ["expected a mapping"], "the top level has the empty path")
    }

    func testPropertiesRequiredAndUnknownKeys() throws {
        let schema = #"{"type": "object", "additionalProperties": false, "required": ["train", "dev"], "properties": {"train": {"type": "string"}, "dev": {"type": "string"}, "epochs": {"type": "integer"}}}"#
        XCTAssertEqual(try violations(schema, "{epochz: 3, train: t, bogus: 1}"), [
            "missing required key 'dev'",
            "unknown key 'epochz' (known: train, dev, epochs)",
            "unknown key 'bogus' (known: train, dev, epochs)",
        ])
    }

    func testAdditionalPropertiesAsASchemaAndPropertyNames() throws {
        let schema = #"{"type": "object", "propertyNames": {"pattern": "^[a-z]+$"}, "minProperties": 1, "additionalProperties": {"type": "number", "minimum": 0}}"#
        XCTAssertEqual(try violations(schema, "{kd: 0.5, ce: 1}"), [])
        XCTAssertEqual(try violations(schema, "{kd: -1, Bad: 2, ok: x}"), [
            "key 'Bad': 'Bad' does not match ^[a-z]+$", "kd: must be at least 0, not -1", "ok: expected a number",
        ])
        XCTAssertEqual(try violations(schema, "{}"), ["expected at least 1 key"])
    }

    func testEnumConstAndItems() throws {
        let schema = #"{"type": "object", "properties": {"init": {"enum": ["lower", "upper", "uniform"]}, "v": {"const": 1}, "codecs": {"type": "array", "minItems": 1, "uniqueItems": true, "items": {"enum": ["fp16", "fp32"]}}}}"#
        XCTAssertEqual(try violations(schema, "{init: upper, v: 1.0, codecs: [fp16, fp32]}"), [])
        XCTAssertEqual(try violations(schema, "{init: lowr, v: 2, codecs: [fp16, int8, fp16]}"), [
            "init: expected one of lower, upper, uniform",
            "v: expected 1",
            "codecs[2]: repeats fp16 (already at [0])",
            "codecs[1]: expected one of fp16, fp32",
        ])
        XCTAssertEqual(try violations(schema, "{codecs: []}"), ["codecs: expected at least one item"])
    }

    func testNumberAndStringBounds() throws {
        let schema = #"{"type": "object", "properties": {"a": {"minimum": 1}, "b": {"exclusiveMinimum": 0}, "c": {"maximum": 22}, "d": {"exclusiveMaximum": 1}, "s": {"minLength": 1, "maxLength": 3}, "t": {"minLength": 2}}}"#
        XCTAssertEqual(try violations(schema, "{a: 1, b: 1e-9, c: 22, d: 0.99, s: abc, t: ab}"), [])
        XCTAssertEqual(try violations(schema, "{a: 0, b: 0, c: 22.5, d: 1, s: '', t: x}"), [
            "a: must be at least 1, not 0", "b: must be greater than 0, not 0", "c: must be at most 22, not 22.5",
            "d: must be less than 1, not 1", "s: must not be empty", "t: must be at least 2 characters long",
        ])
        XCTAssertEqual(try violations(schema, "{s: abcd, a: x}"), ["s: must be at most 3 characters long"], "bounds apply to their own type only")
    }

    func testPatternIsUnanchoredAsInJSONSchema() throws {
        let schema = #"{"properties": {"p": {"pattern": "[0-9]"}, "q": {"pattern": "^[0-9]+(,[0-9]+)*$"}}}"#
        XCTAssertEqual(try violations(schema, "{p: layer3, q: '1,3,5'}"), [])
        XCTAssertEqual(try violations(schema, "{p: none, q: '1,,5'}"), ["p: 'none' does not match [0-9]", "q: '1,,5' does not match ^[0-9]+(,[0-9]+)*$"])
    }

    func testPathsThroughListsAndNestedMappings() throws {
        let schema = #"""
        {"type": "object", "properties": {"students": {"type": "array", "items": {"$ref": "#/$defs/student"}}},
         "$defs": {"student": {"type": "object", "additionalProperties": false, "properties": {"name": {"type": "string"}, "objectives": {"type": "object", "additionalProperties": {"type": "number"}}}}}}
        """#
        let document = """
        students:
          - {name: a, objectives: {kd: 1}}
          - {name: b, objectives: {kd: 1}}
          - {name: c, objectives: {kd: 1}}
          - {name: d, objectives: {kd: 1, attention_kl: high}, epochz: 3}
        """
        XCTAssertEqual(try violations(schema, document), [
            "students[3].objectives.attention_kl: expected a number",
            "students[3]: unknown key 'epochz' (known: name, objectives)",
        ])
        XCTAssertEqual(try violations(schema, "students: [{name: a, objectives: {'odd key': x}}]"), [#"students[0].objectives["odd key"]: expected a number"#])
    }

    func testRefsFollowJSONPointersAndDefinitions() throws {
        let schema = #"""
        {"type": "object", "properties": {"a": {"$ref": "#/definitions/positive"}, "b": {"$ref": "#/$defs/pair/properties/x"}, "c": {"$ref": "#/$defs/a~1b"}, "d": {"$ref": "#/$defs/pair", "required": ["y"]}},
         "definitions": {"positive": {"type": "integer", "minimum": 1}},
         "$defs": {"pair": {"type": "object", "properties": {"x": {"type": "string"}, "y": {"type": "string"}}}, "a/b": {"const": "slash"}}}
        """#
        XCTAssertEqual(try violations(schema, "{a: 2, b: s, c: slash, d: {x: s, y: t}}"), [])
        XCTAssertEqual(try violations(schema, "{a: 0, b: 1, c: other, d: {x: 1}}"), [
            "a: must be at least 1, not 0", "b: expected a string", "c: expected slash",
            "d.x: expected a string", "d: missing required key 'y'",
        ], "a $ref applies beside its sibling keywords, as in 2020-12")
    }

    func testOneOfReportsTheAlternativeTheValueWasMeantFor() throws {
        let schema = #"""
        {"type": "object", "properties": {
           "init": {"oneOf": [{"title": "random or lower", "enum": ["random", "lower"]},
                              {"title": "teacher layers like [1, 3]", "type": "array", "minItems": 1, "items": {"type": "integer", "minimum": 1}}]},
           "teacher": {"type": "object", "properties": {"path": {"type": "string"}, "finetune": {"type": "object"}},
                       "oneOf": [{"title": "a folder (path)", "required": ["path"]}, {"title": "fine-tuning (finetune)", "required": ["finetune"]}]},
           "untitled": {"oneOf": [{"type": "integer"}, {"type": "string", "minLength": 2}]}}}
        """#
        XCTAssertEqual(try violations(schema, "{init: random, teacher: {path: p}, untitled: 3}"), [])
        XCTAssertEqual(try violations(schema, "{init: [1, 3], teacher: {finetune: {}}, untitled: ab}"), [])
        // The value is a list, so the list alternative's own finding is the one to report.
        XCTAssertEqual(try violations(schema, "{init: [0, 3]}"), ["init[0]: must be at least 1, not 0"])
        // Neither alternative has the value's shape: one line, by the titles.
        XCTAssertEqual(try violations(schema, "{init: lowr}"), ["init: expected random or lower, or teacher layers like [1, 3]"])
        XCTAssertEqual(try violations(schema, "{teacher: {path: p, finetune: {}}}"),
                       ["teacher: matches more than one of: a folder (path); fine-tuning (finetune) (expected exactly one)"])
        XCTAssertEqual(try violations(schema, "{teacher: {}}"), ["teacher: expected a folder (path), or fine-tuning (finetune)"])
        XCTAssertEqual(try violations(schema, "{untitled: x}"), ["untitled: must be at least 2 characters long"])
        XCTAssertEqual(try violations(schema, "{untitled: 2.5}"),
                       ["untitled: matches none of the alternatives: alternative 1: expected an integer; alternative 2: expected a string"])
    }

    func testAnyOfAndAllOf() throws {
        let schema = #"{"properties": {"x": {"anyOf": [{"type": "integer"}, {"type": "string"}]}, "y": {"allOf": [{"minimum": 1}, {"maximum": 3}]}}}"#
        XCTAssertEqual(try violations(schema, "{x: 1, y: 2}"), [])
        XCTAssertEqual(try violations(schema, "{x: s, y: 2}"), [])
        XCTAssertEqual(try violations(schema, "{x: [], y: 5}"), [
            "x: matches none of the alternatives: alternative 1: expected an integer; alternative 2: expected a string",
            "y: must be at most 3, not 5",
        ])
    }

    func testBooleanSchemas() throws {
        let schema = #"{"properties": {"yes": true, "no": false}}"#
        XCTAssertEqual(try violations(schema, "{yes: 1}"), [])
        XCTAssertEqual(try violations(schema, "{no: 1}"), ["no: not allowed here"])
    }

    func testUnsupportedKeywordsAndBrokenRefsAreRefusedWhenLoading() {
        XCTAssertThrowsError(try JSONSchema(text: #"{"if": {"type": "string"}, "then": {"minLength": 1}}"#)) { error in
            XCTAssertEqual("\(error)", "invalid schema: #: keyword 'if' is not supported by this validator")
        }
        XCTAssertThrowsError(try JSONSchema(text: ##"{"properties": {"a": {"$ref": "#/$defs/missing"}}}"##)) { error in
            XCTAssertEqual("\(error)", "invalid schema: #/properties/a: `$ref` #/$defs/missing does not point within this file (expected #/$defs/NAME)")
        }
        XCTAssertThrowsError(try JSONSchema(text: #"{"properties": {"a": {"$ref": "other.json#/x"}}}"#))
        XCTAssertThrowsError(try JSONSchema(text: #"{"pattern": "(unclosed"}"#))
        XCTAssertThrowsError(try JSONSchema(text: #"{"type": "float"}"#))
        XCTAssertThrowsError(try JSONSchema(text: #"{"exclusiveMinimum": true}"#), "draft-04 boolean form")
        XCTAssertNoThrow(try JSONSchema(text: #"{"title": "t", "description": "d", "$comment": "c", "default": 1, "examples": [1], "format": "uri"}"#))
    }

    func testFoundationValuesValidateToo() throws {
        let schema = try JSONSchema(text: #"{"type": "object", "properties": {"i": {"type": "integer"}, "b": {"type": "boolean"}, "n": {"type": "number"}}}"#)
        XCTAssertEqual(schema.validate(["i": 3, "b": true, "n": 0.5] as [String: Any]), [])
        XCTAssertEqual(schema.validate(["i": true, "b": 1] as [String: Any]).map(\.description), ["i: expected an integer", "b: expected true or false"])
        let parsed = try JSONSerialization.jsonObject(with: Data(#"{"i": 3, "b": true, "n": 1.5}"#.utf8))
        XCTAssertEqual(schema.validate(parsed), [], "JSONSerialization's NSNumbers keep integers, reals and booleans apart")
        let wrong = try JSONSerialization.jsonObject(with: Data(#"{"i": 1.5, "b": 1}"#.utf8))
        XCTAssertEqual(schema.validate(wrong).map(\.description), ["i: expected an integer", "b: expected true or false"])
    }

    /// A value JSON cannot hold is named where it is, not checked as if it were one.
    func testFoundationValuesThatAreNotJSON() throws {
        let schema = try JSONSchema(text: #"{"type": "object"}"#)
        XCTAssertEqual(schema.validate(["a": [1, Date(timeIntervalSince1970: 0)]] as [String: Any]).map(\.description),
                       ["a[1]: a Date is not a JSON value"])
    }

    func testYAMLLoadingKeepsJSONTypes() throws {
        let value = try loadYAMLAsJSON(string: """
        int: 3
        float: 1e-4
        real: 5.0e-5
        bool: true
        null_value: null
        tilde: ~
        quoted: "3"
        mapping: 1:2
        pairs: 1:2,2:4
        date: 2024-01-02
        list: [1, two, 3.5]
        """) as? [String: Any]
        let v = try XCTUnwrap(value)
        XCTAssertEqual(v["int"] as? Int, 3)
        XCTAssertEqual(v["float"] as? Double, 1e-4)
        XCTAssertEqual(v["real"] as? Double, 5e-5)
        XCTAssertEqual(v["bool"] as? Bool, true)
        XCTAssertTrue(v["null_value"] is NSNull)
        XCTAssertTrue(v["tilde"] is NSNull)
        XCTAssertEqual(v["quoted"] as? String, "3")
        XCTAssertEqual(v["mapping"] as? String, "1:2", "not YAML 1.1's sexagesimal 62")
        XCTAssertEqual(v["pairs"] as? String, "1:2,2:4")
        XCTAssertEqual(v["date"] as? String, "2024-01-02")
        let list = try XCTUnwrap(v["list"] as? [Any])
        XCTAssertEqual(list[0] as? Int, 1)
        XCTAssertEqual(list[1] as? String, "two")
        XCTAssertEqual(list[2] as? Double, 3.5)
        XCTAssertTrue(try loadYAMLAsJSON(string: "") is NSNull)
    }

    func testYAMLMergeKeysAndDuplicateKeys() throws {
        let merged = try XCTUnwrap(try loadYAMLAsJSON(string: """
        base: &base {epochs: 3, seed: 1}
        student: {<<: *base, seed: 2}
        """) as? [String: Any])
        let student = try XCTUnwrap(merged["student"] as? [String: Any])
        XCTAssertEqual(student["epochs"] as? Int, 3)
        XCTAssertEqual(student["seed"] as? Int, 2, "a key given beside the merge wins")
        XCTAssertThrowsError(try loadYAMLAsJSON(string: "training:\n  epochs: 1\n  epochs: 2\n")) { error in
            XCTAssertEqual("\(error)", "invalid YAML: YAML text: training.epochs is given twice")
        }
    }
}
