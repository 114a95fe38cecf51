import Datasets
import Foundation
import Logging
import TeacherCache
import TestSupport
import XCTest
@testable import Distillation

/// Stage two needs nothing new for a merged cache (`distillery cache merge`): a student trains
/// from three merged shards exactly as from the single-process cache of the same data.
final class ShardedCacheTrainingTests: XCTestCase {
    func testAStudentTrainsFromAMergedCacheWithTheSameLosses() throws {
        let folder = try makeTemporaryDirectory("distillery-shard-train-tests")
        defer { try? FileManager.default.removeItem(at: folder) }
        let single = try TrainFixtures.caches(in: folder, trainRows: 40, devRows: 4).train
        let data = folder.appendingPathComponent("train.jsonl")
        var options = DatasetReadOptions()
        options.fields = DatasetFields(text: "text", textPair: nil, label: "label", id: "id")
        let shardFolder = folder.appendingPathComponent("shards")
        try FileManager.default.createDirectory(at: shardFolder, withIntermediateDirectories: true)
        let shards = try (1...3).map { i -> URL in
            var request = CacheRequest(teacher: TrainFixtures.teacher("cls"), data: [data], readOptions: options,
                                       spec: TrainFixtures.everythingSpec(), output: shardFolder.appendingPathComponent("train-\(i).h5"))
            request.shard = try ShardSelection(index: i, count: 3)
            try CacheBuilder.build(request, logger: Logger(label: "test"))
            return request.output
        }
        let merged = folder.appendingPathComponent("train-merged.h5")
        try CacheMerger.merge(shards, into: merged)

        var spec = TrainFixtures.spec([.kd: 0.5, .ce: 0.5, .kdSampled: 0.5, .hiddenMSE: 1, .attentionKL: 1, .relations: 1], steps: 6)
        spec.attentionMapping = .uniform
        func train(_ cache: URL) throws -> TrainingSummary {
            try StudentTrainer(spec: spec, cache: cache, teacherDirectory: TrainFixtures.teacher("cls"), logger: Logger(label: "test")).train(dev: nil, run: nil)
        }
        let fromSingle = try train(single), fromMerged = try train(merged)
        XCTAssertEqual(fromMerged.lossHistory.count, 6)
        XCTAssertEqual(fromMerged.lossHistory, fromSingle.lossHistory, "bit-identical caches give identical losses")
    }
}
