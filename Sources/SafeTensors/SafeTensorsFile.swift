import Foundation

/// A .safetensors file opened for reading: the header is parsed and fully validated up front, so
/// every later read is in bounds. The file is memory-mapped where Foundation supports it, so
/// opening a large checkpoint costs only the pages actually read. (Like any mapping, truncating
/// the file on disk while it is open is not survivable; replace files by rename, as the writer does.)
public struct SafeTensorsFile: Sendable {
    public let url: URL
    public let metadata: [String: String]
    public let tensors: [String: TensorInfo]
    /// Tensor names, sorted.
    public let names: [String]

    /// The whole file; tensor `byteRange`s are relative to `dataStart`.
    let contents: Data
    let dataStart: Int

    public init(url: URL) throws {
        let contents: Data
        do {
            contents = try Data(contentsOf: url, options: .alwaysMapped)
        } catch {
            throw SafeTensorsError.unreadable(file: url.path, reason: error.localizedDescription)
        }
        try self.init(url: url, contents: contents)
    }

    /// Parses bytes already in memory; `url` is only used to name the file in errors.
    init(url: URL, contents: Data) throws {
        let file = url.path
        guard contents.count >= 8 else { throw SafeTensorsError.tooShort(file: file, size: contents.count) }
        let headerLength = contents.withUnsafeBytes { UInt64(littleEndian: $0.loadUnaligned(as: UInt64.self)) }
        // Both bounds are checked before anything is allocated from the length.
        guard headerLength <= UInt64(Header.maxLength) else {
            throw SafeTensorsError.headerTooLarge(file: file, length: headerLength, limit: Header.maxLength)
        }
        guard headerLength <= UInt64(contents.count - 8) else {
            throw SafeTensorsError.headerPastEnd(file: file, length: headerLength, fileSize: contents.count)
        }
        let dataStart = 8 + Int(headerLength)
        let headerBytes = contents.withUnsafeBytes { Array($0[8..<dataStart]) }
        let header = try Header(bytes: headerBytes, dataSize: contents.count - dataStart, file: file)

        self.url = url
        self.contents = contents
        self.dataStart = dataStart
        self.metadata = header.metadata
        self.tensors = Dictionary(uniqueKeysWithValues: header.tensors.map { ($0.name, $0) })
        self.names = self.tensors.keys.sorted()
    }

    func info(_ name: String) throws -> TensorInfo {
        guard let info = tensors[name] else { throw SafeTensorsError.missingTensor(file: url.path, key: name) }
        return info
    }

    /// Calls `body` with the tensor's raw little-endian bytes.
    func withBytes<Result>(of info: TensorInfo, _ body: (UnsafeRawBufferPointer) throws -> Result) rethrows -> Result {
        try contents.withUnsafeBytes { raw in
            let range = (dataStart + info.byteRange.lowerBound)..<(dataStart + info.byteRange.upperBound)
            return try body(UnsafeRawBufferPointer(rebasing: raw[range]))
        }
    }
}
