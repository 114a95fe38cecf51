import Foundation
import Kernels
import XCTest

import TeacherCache

/// Masking: selection rate and the 80/10/10 split over many sequences, specials never touched, labels,
/// determinism in (seed, sequence, view), uniform random replacements, degenerate sequences, options.
final class MaskingTests: XCTestCase {
    // BERT uncased ids: [PAD] 0, [UNK] 100, [CLS] 101, [SEP] 102, [MASK] 103; vocabulary 30,522.
    private let pad: Int32 = 0, unk: Int32 = 100, cls: Int32 = 101, sep: Int32 = 102, maskId: Int32 = 103
    private let vocabularySize = 30_522
    private var specials: Set<Int32> { [pad, unk, cls, sep, maskId] }

    /// [CLS] w… [SEP] [PAD]…, length 128, words uniform in 1000..<30000, a random number of pads.
    private func sequence(_ index: Int) -> [Int32] {
        var g = SeededGenerator(seed: 1234, stream: UInt64(index))
        let words = 60 + Int(g.next() % 67)
        return [cls] + (0..<words).map { _ in Int32(1000 + g.next() % 29_000) } + [sep]
            + [Int32](repeating: pad, count: 128 - words - 2)
    }

    private func mask(_ ids: [Int32], options: MaskingOptions = MaskingOptions(), index: Int = 0, view: Int = 0,
                      vocabularySize: Int? = nil) -> MaskingPlan {
        Masking.mask(ids, specialIds: specials, maskId: maskId, vocabularySize: vocabularySize ?? self.vocabularySize,
                     options: options, sequenceIndex: index, view: view)
    }

    /// Every plan's internal consistency: positions ascending and in range, never on a special id, labels the
    /// original ids, and the input changed nowhere else.
    private func assertConsistent(_ plan: MaskingPlan, _ ids: [Int32], file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(plan.maskedInputIds.count, ids.count, file: file, line: line)
        XCTAssertEqual(plan.positions.count, plan.originalIds.count, file: file, line: line)
        XCTAssertTrue(zip(plan.positions, plan.positions.dropFirst()).allSatisfy { $0 < $1 }, "ascending", file: file, line: line)
        XCTAssertTrue(plan.positions.allSatisfy { $0 >= 0 && Int($0) < ids.count }, "in range", file: file, line: line)
        let selected = Set(plan.positions.map(Int.init))
        for (p, original) in zip(plan.positions, plan.originalIds) {
            XCTAssertEqual(original, ids[Int(p)], "label at \(p)", file: file, line: line)
            XCTAssertFalse(specials.contains(original), "special id \(original) selected at \(p)", file: file, line: line)
        }
        for i in ids.indices where !selected.contains(i) {
            XCTAssertEqual(plan.maskedInputIds[i], ids[i], "unselected position \(i) changed", file: file, line: line)
        }
    }

    /// Over 4000 sequences (~370k eligible positions, ~56k selected): the selection rate within 0.003 of 0.15
    /// (its standard error is 5.9e-4: 5 standard errors), the [MASK] share within 0.01 of 0.8 (s.e. 1.7e-3),
    /// random and kept shares within 0.008 of 0.1 (s.e. 1.3e-3). "Kept" is counted as unchanged, which also
    /// catches the 1/30,522 of random draws that hit the original id (≈ 2 here, far inside the tolerance).
    func testSelectionRateAndSplitMatchBERT() {
        var eligible = 0, selected = 0, masked = 0, random = 0, kept = 0
        var randomOutsideWords = 0, randomCount = 0
        for index in 0..<4000 {
            let ids = sequence(index)
            let plan = mask(ids, index: index)
            assertConsistent(plan, ids)
            eligible += ids.filter { !specials.contains($0) }.count
            selected += plan.positions.count
            for (p, original) in zip(plan.positions, plan.originalIds) {
                let now = plan.maskedInputIds[Int(p)]
                if now == maskId { masked += 1 } else if now == original { kept += 1 } else {
                    random += 1
                    if !(1000..<30_000).contains(now) { randomOutsideWords += 1 }
                    randomCount += 1
                }
            }
        }
        let rate = Double(selected) / Double(eligible)
        let shares = [masked, random, kept].map { Double($0) / Double(selected) }
        print(String(format: "[masking] %d eligible positions: selected %.4f; [MASK] %.4f, random %.4f, kept %.4f",
                     eligible, rate, shares[0], shares[1], shares[2]))
        XCTAssertEqual(rate, 0.15, accuracy: 0.003)
        XCTAssertEqual(shares[0], 0.8, accuracy: 0.01)
        XCTAssertEqual(shares[1], 0.1, accuracy: 0.008)
        XCTAssertEqual(shares[2], 0.1, accuracy: 0.008)
        // Random replacements are uniform over the whole vocabulary, not drawn from the words seen (1000..<30000):
        // a share 1522/30522 ≈ 0.0499 falls outside the words' range; n ≈ 5600 gives s.e. 2.9e-3, tolerance 0.015.
        XCTAssertEqual(Double(randomOutsideWords) / Double(randomCount), 1522.0 / 30_522, accuracy: 0.015)
    }

    /// With a vocabulary of 4 and every selected position randomised, each id appears with probability ¼:
    /// a chi-square over 4 cells (3 degrees of freedom, bound 3 + 6·√6 ≈ 17.7), and ids 0…3 all appear,
    /// specials included, as HF's torch.randint(len(tokenizer)) would give.
    func testRandomReplacementIsUniformOverTheVocabulary() {
        let options = MaskingOptions(probability: 1, maskFraction: 0, randomFraction: 1, seed: 5)
        var counts = [Int](repeating: 0, count: 4)
        let ids = [Int32](repeating: 7, count: 100)  // 7 is not special; every position is selected
        for index in 0..<200 {
            let plan = Masking.mask(ids, specialIds: [], maskId: 3, vocabularySize: 4, options: options, sequenceIndex: index, view: 0)
            XCTAssertEqual(plan.positions.count, 100)
            for id in plan.maskedInputIds { counts[Int(id)] += 1 }
        }
        let expected = 20_000.0 / 4
        let statistic = counts.reduce(0.0) { $0 + (Double($1) - expected) * (Double($1) - expected) / expected }
        XCTAssertLessThan(statistic, 3 + 6 * 6.0.squareRoot(), "counts \(counts)")
        XCTAssertTrue(counts.allSatisfy { $0 > 0 })
    }

    func testSpecialIdsAreNeverSelected() {
        // Probability 1 selects every non-special position and no special one.
        let options = MaskingOptions(probability: 1, seed: 3)
        let ids: [Int32] = [cls, 2000, unk, 2001, maskId, 2002, sep, pad, pad]
        let plan = mask(ids, options: options)
        assertConsistent(plan, ids)
        XCTAssertEqual(plan.positions, [1, 3, 5])
        XCTAssertEqual(plan.originalIds, [2000, 2001, 2002])
        for i in [0, 2, 4, 6, 7, 8] { XCTAssertEqual(plan.maskedInputIds[i], ids[i]) }
    }

    func testOnlySpecialsEmptyAndProbabilityZeroGiveNoPositions() {
        let onlySpecials: [Int32] = [cls, sep, pad, pad, unk, maskId]
        for (ids, options) in [(onlySpecials, MaskingOptions(probability: 1)), ([], MaskingOptions()),
                               (sequence(3), MaskingOptions(probability: 0))] {
            let plan = mask(ids, options: options)
            XCTAssertEqual(plan, MaskingPlan(maskedInputIds: ids, positions: [], originalIds: []))
        }
    }

    func testDeterministicInSeedSequenceAndView() {
        let ids = sequence(7)
        let plan = mask(ids, options: MaskingOptions(seed: 42), index: 7, view: 2)
        XCTAssertEqual(mask(ids, options: MaskingOptions(seed: 42), index: 7, view: 2), plan, "same inputs, same mask")
        XCTAssertFalse(plan.positions.isEmpty)
        // Each of these changes one of (seed, sequence, view); all masks differ from each other.
        let variants = [
            plan,
            mask(ids, options: MaskingOptions(seed: 43), index: 7, view: 2),
            mask(ids, options: MaskingOptions(seed: 42), index: 8, view: 2),
            mask(ids, options: MaskingOptions(seed: 42), index: 7, view: 0),
            mask(ids, options: MaskingOptions(seed: 42), index: 7, view: 1),
            mask(ids, options: MaskingOptions(seed: 42), index: 7, view: 3),
        ]
        for a in variants.indices {
            assertConsistent(variants[a], ids)
            for b in variants.indices where b > a {
                XCTAssertNotEqual(variants[a].positions, variants[b].positions, "variants \(a) and \(b)")
            }
        }
        // The mask does not depend on the masks drawn before it (one generator stream per sequence and view).
        _ = mask(sequence(1), options: MaskingOptions(seed: 42), index: 1)
        XCTAssertEqual(mask(ids, options: MaskingOptions(seed: 42), index: 7, view: 2), plan)
    }

    func testViewsAreIndependentDraws() {
        // Two views of one sequence overlap like independent 15% draws: about 0.15² of eligible positions.
        var overlap = 0, eligible = 0
        for index in 0..<500 {
            let ids = sequence(index)
            let a = Set(mask(ids, index: index, view: 0).positions), b = Set(mask(ids, index: index, view: 1).positions)
            overlap += a.intersection(b).count
            eligible += ids.filter { !specials.contains($0) }.count
        }
        // ≈ 46k eligible positions: expected 0.0225 of them, s.e. 6.9e-4; tolerance 0.004.
        XCTAssertEqual(Double(overlap) / Double(eligible), 0.0225, accuracy: 0.004)
    }

    func testOptionsDefaultsCodableAndProblems() throws {
        let defaults = MaskingOptions()
        XCTAssertEqual([defaults.probability, defaults.maskFraction, defaults.randomFraction], [0.15, 0.8, 0.1])
        XCTAssertEqual(defaults.seed, 0)
        XCTAssertNil(defaults.problem)
        let decoder = JSONDecoder()
        XCTAssertEqual(try decoder.decode(MaskingOptions.self, from: Data("{}".utf8)), defaults, "missing keys take defaults")
        XCTAssertEqual(try decoder.decode(MaskingOptions.self, from: Data(#"{"probability":0.2,"seed":9}"#.utf8)),
                       MaskingOptions(probability: 0.2, seed: 9))
        let custom = MaskingOptions(probability: 0.3, maskFraction: 0.5, randomFraction: 0.25, seed: 1 << 40)
        XCTAssertEqual(try decoder.decode(MaskingOptions.self, from: JSONEncoder().encode(custom)), custom)
        XCTAssertNotNil(MaskingOptions(probability: 1.5).problem)
        XCTAssertNotNil(MaskingOptions(probability: .nan).problem)
        XCTAssertNotNil(MaskingOptions(maskFraction: -0.1).problem)
        XCTAssertNotNil(MaskingOptions(maskFraction: 0.8, randomFraction: 0.3).problem)
        XCTAssertNil(MaskingOptions(probability: 1, maskFraction: 0, randomFraction: 1).problem)
    }

    func testOtherSplitsAreHonoured() {
        // 50% [MASK], 50% random, nothing kept.
        let options = MaskingOptions(probability: 0.5, maskFraction: 0.5, randomFraction: 0.5, seed: 8)
        var selected = 0, masked = 0, unchanged = 0
        for index in 0..<300 {
            let ids = sequence(index)
            let plan = mask(ids, options: options, index: index)
            selected += plan.positions.count
            for p in plan.positions {
                if plan.maskedInputIds[Int(p)] == maskId { masked += 1 }
                if plan.maskedInputIds[Int(p)] == ids[Int(p)] { unchanged += 1 }
            }
        }
        // ≈ 14k selected: [MASK] share s.e. 4.2e-3, tolerance 0.025; unchanged only by a random draw of the same id.
        XCTAssertEqual(Double(masked) / Double(selected), 0.5, accuracy: 0.025)
        XCTAssertLessThanOrEqual(unchanged, 5)
    }
}
