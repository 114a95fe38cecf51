import Tokenization
import XCTest

/// The basic-tokenizer stage on a small vocabulary: cleaning, case, accents, punctuation, CJK,
/// special tokens. The fixture suites cover the same ground against Hugging Face at scale.
final class TextNormalizationTests: XCTestCase {
    func testLowercasingStripsAccents() throws {
        XCTAssertEqual(try smallTokenizer().tokenize("Café NAÏVE"), ["cafe", "naive"])
    }

    func testAccentsStayWhenStripAccentsIsFalse() throws {
        XCTAssertEqual(try smallTokenizer(stripAccents: false).tokenize("Café NAÏVE"), ["café", "naïve"])
    }

    func testCasedKeepsCaseAndAccentsUnlessAsked() throws {
        XCTAssertEqual(try smallTokenizer(lowercase: false).tokenize("Café Hello café"), ["Café", "Hello", "café"])
        XCTAssertEqual(try smallTokenizer(lowercase: false, stripAccents: true).tokenize("café"), ["cafe"])
    }

    func testDecomposedAccentsAreComposedFirst() throws {
        // HF normalises to NFC before anything else, so e + U+0301 finds the vocabulary's "é".
        XCTAssertEqual(try smallTokenizer(lowercase: false).tokenize("cafe\u{301}"), ["café"])
    }

    func testCapitalSigmaLowercasesLikePython() throws {
        let tokenizer = try smallTokenizer()
        XCTAssertEqual(tokenizer.tokenize("ΟΔΟΣ"), ["ο", "##δ", "##ος"])  // final: ς
        XCTAssertEqual(tokenizer.tokenize("ΟΔΟΣΟ"), ["ο", "##δ", "##ο", "##σ", "##ο"])  // inside: σ
        XCTAssertEqual(tokenizer.tokenize("Σ"), ["σ"])  // nothing cased before: σ
    }

    func testDottedCapitalIUsesFullLowercaseMapping() throws {
        // Python: "İ".lower() == "i̇" (i + U+0307); stripping accents then leaves "i".
        XCTAssertEqual(try smallTokenizer(stripAccents: false).tokenize("İ"), ["i\u{307}"])
        XCTAssertEqual(try smallTokenizer().tokenize("İ"), ["i"])
    }

    func testPunctuationAndChineseCharactersAreSplit() throws {
        XCTAssertEqual(try smallTokenizer().tokenize("hello,world!你好"), ["hello", ",", "world", "!", "你", "好"])
        XCTAssertEqual(try smallTokenizer(tokenizeChineseChars: false).tokenize("你好 hello你好"), ["你好", "[UNK]"])
    }

    func testControlAndInvalidCharactersAreDropped() throws {
        let tokenizer = try smallTokenizer()
        XCTAssertEqual(tokenizer.tokenize("hel\u{0}lo wo\u{200B}rld\u{FFFD} a\u{7}\u{1B}\u{AD}"), ["hello", "world", "a"])
        XCTAssertEqual(tokenizer.tokenize("hello\tworld\u{3000}hello\u{2028}world\r\n"), ["hello", "world", "hello", "world"])
        XCTAssertEqual(tokenizer.tokenize(""), [])
        XCTAssertEqual(tokenizer.tokenize(" \n\t\u{0}"), [])
    }

    func testSpecialTokensInTheTextAreKept() throws {
        let tokenizer = try smallTokenizer()
        XCTAssertEqual(tokenizer.tokenize("hello[MASK] world"), ["hello", "[MASK]", "world"])
        XCTAssertEqual(tokenizer.tokenize("[mask]"), ["[", "mask", "]"])  // case-sensitive
        XCTAssertEqual(tokenizer.tokenize("[MASK]s"), ["[MASK]", "[UNK]"])  // "s" alone is no word in this vocabulary
        // A special token that only appears once cleaning removes a NUL stays whole in HF too.
        XCTAssertEqual(tokenizer.tokenize("[SE\u{0}P]"), ["[SEP]"])
    }
}
