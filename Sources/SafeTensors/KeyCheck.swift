extension SafeTensorsFile {
    /// Strict key check for model loaders: every `expected` name present, and nothing else except
    /// names in `harmless`, matched exactly or as a dotted suffix (`"embeddings.position_ids"`
    /// also covers `"bert.embeddings.position_ids"`, but not `"myembeddings.position_ids"`).
    /// One error lists both the missing and the unexpected names, sorted.
    public func checkKeys(expected: Set<String>, harmless: [String]) throws {
        let present = Set(tensors.keys)
        let missing = expected.subtracting(present).sorted()
        let unexpected = present.subtracting(expected)
            .filter { name in !harmless.contains { name == $0 || name.hasSuffix("." + $0) } }
            .sorted()
        guard missing.isEmpty && unexpected.isEmpty else {
            throw SafeTensorsError.keyMismatch(file: url.path, missing: missing, unexpected: unexpected)
        }
    }
}
