import Foundation

/// XLM-R's sentencepiece.bpe.model (despite the name, a SentencePiece *unigram* model) made into
/// the pipeline transformers' XLMRobertaConverter makes from it:
///
///   ids        <s> 0, <pad> 1, </s> 2, <unk> 3, then SentencePiece's pieces from its id 3 on at
///              id + 1 (fairseq's offset), then <mask>
///   normaliser Precompiled (the model's charsmap), Strip (right), Replace("  "+ → "▁")
///   pre-tok.   Metaspace ▁, prepended always, split
///   template   <s> A </s>, pair <s> A </s> </s> B </s>, types all 0
///
/// The file is a protobuf `ModelProto`; `ProtobufReader` reads the few fields needed without a
/// generated parser (see the note there).
enum SentencePieceModel {
    /// The parts of ModelProto used here (field numbers from sentencepiece_model.proto).
    struct Proto {
        struct Piece {
            var text = ""
            var score: Float = 0
            /// NORMAL 1, UNKNOWN 2, CONTROL 3, USER_DEFINED 4, BYTE 6, UNUSED 5.
            var type = 1
        }
        var pieces: [Piece] = []
        /// TrainerSpec.model_type: UNIGRAM 1, BPE 2, WORD 3, CHAR 4.
        var modelType = 1
        var byteFallback = false
        var precompiledCharsmap: [UInt8] = []
        var normalizerName = ""
    }

    static func tokenizer(url: URL, specials names: SpecialTokenNames) throws -> PipelineTokenizer {
        let data = try TokenizerFileLimits.read(url, limit: TokenizerFileLimits.sentencePieceModel)
        let proto: Proto
        do {
            proto = try parse([UInt8](data))
        } catch let error as ProtobufReader.Failure {
            throw TokenizerError.invalidFile(url, reason: "not a SentencePiece model: \(error.reason)")
        }
        guard proto.modelType == 1 else {
            throw TokenizerError.unsupported(url, reason: "trainer_spec.model_type \(proto.modelType) (only UNIGRAM, 1, is implemented)")
        }
        guard !proto.byteFallback else { throw TokenizerError.unsupported(url, reason: "trainer_spec.byte_fallback true") }
        guard proto.pieces.count >= 3, proto.pieces[0].type == 2 else {
            throw TokenizerError.invalidFile(url, reason: "piece 0 is not the unknown piece, as XLM-R's <unk> <s> </s> layout needs")
        }
        guard proto.pieces.count + 2 <= TokenizerFileLimits.vocabularyEntries else {
            throw TokenizerError.invalidFile(url, reason: "too many pieces")
        }

        let fairseq = ["<s>", "<pad>", "</s>", "<unk>"]
        var tokens = fairseq, scores = [Double](repeating: 0, count: 4)
        for piece in proto.pieces.dropFirst(3) {
            tokens.append(piece.text)
            scores.append(Double(piece.score))
        }
        tokens.append("<mask>")
        scores.append(0)
        let ids = TokenizerJSON.table(tokens)
        var names = names
        (names.cls, names.sep, names.pad, names.unk, names.mask) =
            (names.cls ?? "<s>", names.sep ?? "</s>", names.pad ?? "<pad>", names.unk ?? "<unk>", names.mask ?? "<mask>")
        let specials = try names.resolve(in: ids, file: url)
        // Specials whole wherever they appear; user-defined pieces likewise (not special).
        var added = (0..<4).map { AddedToken(content: tokens[$0], id: Int32($0)) }
        added.append(AddedToken(content: "<mask>", id: Int32(tokens.count - 1), lstrip: names.maskLstrip ?? true))
        for (index, piece) in proto.pieces.enumerated() where index >= 3 && piece.type == 4 {
            added.append(AddedToken(content: piece.text, id: Int32(index + 1)))
        }

        var normalizers: [Normalizer] = []
        if !proto.precompiledCharsmap.isEmpty {
            do {
                normalizers.append(.precompiled(try PrecompiledCharsmap(proto.precompiledCharsmap)))
            } catch let error as PrecompiledCharsmap.CharsmapError {
                throw TokenizerError.invalidFile(url, reason: "normalizer_spec.precompiled_charsmap: \(error.reason)")
            }
        }
        normalizers += [.strip(left: false, right: true), .replace(.repeated(" ", atLeast: 2), with: "▁")]
        return PipelineTokenizer(
            tokens: tokens, tokenIds: ids, rawAddedTokens: AddedTokenMatcher(added), normalizedAddedTokens: nil,
            normalizer: .sequence(normalizers), preTokenizer: .metaspace(replacement: "▁", prepend: .always, split: true),
            model: .unigram(UnigramModel(pieces: ids, scores: scores, unknownId: 3)),
            postProcessor: .roberta(cls: specials.cls, sep: specials.sep),
            padId: specials.pad, unkId: specials.unk, maskId: specials.mask, clsId: specials.cls, sepId: specials.sep,
            source: url)
    }

    /// ModelProto: pieces 1 (SentencePiece: piece 1, score 2, type 3), trainer_spec 2
    /// (model_type 3, byte_fallback 35), normalizer_spec 3 (name 1, precompiled_charsmap 2).
    /// Other fields are skipped; nothing nests deeper than two messages.
    static func parse(_ bytes: [UInt8]) throws -> Proto {
        var proto = Proto()
        var model = ProtobufReader(bytes, bytes.indices)
        while let (field, wire) = try model.nextField() {
            switch (field, wire) {
            case (1, .lengthDelimited):
                var reader = ProtobufReader(bytes, try model.lengthDelimited())
                var piece = Proto.Piece()
                var hasText = false
                while let (pieceField, pieceWire) = try reader.nextField() {
                    switch (pieceField, pieceWire) {
                    case (1, .lengthDelimited):
                        guard let text = String(validating: bytes[try reader.lengthDelimited()], as: UTF8.self) else {
                            throw ProtobufReader.Failure("piece \(proto.pieces.count) is not UTF-8")
                        }
                        piece.text = text
                        hasText = true
                    case (2, .fixed32): piece.score = Float(bitPattern: try reader.fixed32())
                    case (3, .varint): piece.type = Int(truncatingIfNeeded: try reader.varint())
                    default: try reader.skip(pieceWire)
                    }
                }
                guard hasText else { throw ProtobufReader.Failure("piece \(proto.pieces.count) has no text") }
                proto.pieces.append(piece)
            case (2, .lengthDelimited):
                var reader = ProtobufReader(bytes, try model.lengthDelimited())
                while let (specField, specWire) = try reader.nextField() {
                    switch (specField, specWire) {
                    case (3, .varint): proto.modelType = Int(truncatingIfNeeded: try reader.varint())
                    case (35, .varint): proto.byteFallback = try reader.varint() != 0
                    default: try reader.skip(specWire)
                    }
                }
            case (3, .lengthDelimited):
                var reader = ProtobufReader(bytes, try model.lengthDelimited())
                while let (specField, specWire) = try reader.nextField() {
                    switch (specField, specWire) {
                    case (1, .lengthDelimited): proto.normalizerName = String(decoding: bytes[try reader.lengthDelimited()], as: UTF8.self)
                    case (2, .lengthDelimited): proto.precompiledCharsmap = Array(bytes[try reader.lengthDelimited()])
                    default: try reader.skip(specWire)
                    }
                }
            default:
                try model.skip(wire)
            }
        }
        guard !proto.pieces.isEmpty else { throw ProtobufReader.Failure("no pieces") }
        return proto
    }
}

/// A bounded reader of protobuf's wire format over one message's bytes: every length is checked
/// against the message's end, varints stop at 10 bytes, groups are refused.
///
/// Why not swift-protobuf (in the package mirror): no `protoc` on the build machines to generate
/// the ModelProto types, it would be a dependency of every module that tokenizes (and of the fuzz
/// build), and five fields of three messages need only this reader.
struct ProtobufReader {
    enum WireType: Int { case varint = 0, fixed64 = 1, lengthDelimited = 2, fixed32 = 5 }

    struct Failure: Error {
        let reason: String
        init(_ reason: String) { self.reason = reason }
    }

    private let bytes: [UInt8]
    private var position: Int
    private let end: Int

    init(_ bytes: [UInt8], _ range: Range<Int>) {
        self.bytes = bytes
        position = range.lowerBound
        end = range.upperBound
    }

    /// The next field's number and wire type, nil at the end of the message.
    mutating func nextField() throws -> (Int, WireType)? {
        guard position < end else { return nil }
        let key = try varint()
        guard let wire = WireType(rawValue: Int(key & 7)) else { throw Failure("wire type \(key & 7) at byte \(position)") }
        let field = Int(truncatingIfNeeded: key >> 3)
        guard field > 0 && field < 1 << 29 else { throw Failure("field number \(field) at byte \(position)") }
        return (field, wire)
    }

    mutating func varint() throws -> UInt64 {
        var value: UInt64 = 0
        for shift in stride(from: 0, to: 70, by: 7) {
            guard position < end else { throw Failure("truncated varint at byte \(position)") }
            let byte = bytes[position]
            position += 1
            value |= UInt64(byte & 0x7F) << UInt64(shift)
            if byte & 0x80 == 0 { return value }
        }
        throw Failure("varint longer than 10 bytes at byte \(position)")
    }

    mutating func fixed32() throws -> UInt32 {
        guard end - position >= 4 else { throw Failure("truncated fixed32 at byte \(position)") }
        defer { position += 4 }
        return UInt32(bytes[position]) | UInt32(bytes[position + 1]) << 8 | UInt32(bytes[position + 2]) << 16
            | UInt32(bytes[position + 3]) << 24
    }

    /// The byte range of a length-delimited field, within the message.
    mutating func lengthDelimited() throws -> Range<Int> {
        let length = try varint()
        guard length <= UInt64(end - position) else { throw Failure("length \(length) past the end at byte \(position)") }
        defer { position += Int(length) }
        return position..<position + Int(length)
    }

    mutating func skip(_ wire: WireType) throws {
        switch wire {
        case .varint: _ = try varint()
        case .fixed32: _ = try fixed32()
        case .fixed64:
            guard end - position >= 8 else { throw Failure("truncated fixed64 at byte \(position)") }
            position += 8
        case .lengthDelimited: _ = try lengthDelimited()
        }
    }
}
