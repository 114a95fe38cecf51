/// Token → id lookup keyed by exact UTF-8 bytes.
///
/// Swift's `String ==` is canonical equivalence ("é" == "e\u{301}"), Python's is code-point
/// equality; keying by bytes keeps HF's semantics, and a lookup needs no `String` at all.
/// Open addressing with linear probing over FNV-1a hashes; built once, then read-only.
struct TokenTable: Sendable {
    private var bytes: [UInt8] = []
    private var offsets: [Int] = [0]  // entry e is bytes[offsets[e]..<offsets[e + 1]]
    private var ids: [Int32] = []
    private var slots: [Int32]        // entry index, or -1 for empty
    private let slotMask: Int
    /// The longest key, in bytes: no longer slice can match.
    private(set) var maxKeyLength = 0

    init(capacity: Int) {
        var size = 16
        while size < capacity * 2 { size *= 2 }
        slots = Array(repeating: -1, count: size)
        slotMask = size - 1
    }

    /// Adds `key`, or gives an existing key the new id (a later duplicate line wins, as in HF).
    mutating func insert<Key: Collection<UInt8>>(_ key: Key, id: Int32) {
        let keyBytes = Array(key)
        var slot = keyBytes.withUnsafeBufferPointer { Self.hash($0) } & slotMask
        while slots[slot] >= 0 {
            let entry = Int(slots[slot])
            if bytes[offsets[entry]..<offsets[entry + 1]].elementsEqual(keyBytes) {
                ids[entry] = id
                return
            }
            slot = (slot + 1) & slotMask
        }
        precondition(ids.count * 2 < slots.count, "TokenTable capacity exceeded")
        slots[slot] = Int32(ids.count)
        bytes.append(contentsOf: keyBytes)
        offsets.append(bytes.count)
        ids.append(id)
        maxKeyLength = max(maxKeyLength, keyBytes.count)
    }

    func id(for key: UnsafeBufferPointer<UInt8>) -> Int32? {
        var slot = Self.hash(key) & slotMask
        while true {
            let entry = Int(slots[slot])
            if entry < 0 { return nil }
            let start = offsets[entry]
            if offsets[entry + 1] - start == key.count {
                var i = 0
                while i < key.count && bytes[start + i] == key[i] { i += 1 }
                if i == key.count { return ids[entry] }
            }
            slot = (slot + 1) & slotMask
        }
    }

    @inline(__always)
    private static func hash(_ key: UnsafeBufferPointer<UInt8>) -> Int {
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in key {
            h = (h ^ UInt64(byte)) &* 0x0000_0100_0000_01B3
        }
        return Int(truncatingIfNeeded: h ^ (h >> 29))
    }
}
