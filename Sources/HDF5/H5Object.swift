import CHDF5

/// A group or dataset in an open file: its path, and its attributes.
///
/// Attributes are small named values. Strings are stored as variable-length UTF-8
/// (h5py reads them as `str`), integers as int64, reals as float64, float arrays as float32.
/// Setting an attribute replaces one of the same name.
public class H5Object {
    public let file: H5File
    /// The absolute path inside the file, e.g. "/teacher/logits".
    public let path: String
    let id: hid_t

    init(file: H5File, path: String, id: hid_t) {
        self.file = file
        self.path = path
        self.id = id
    }

    deinit {
        guard file.isOpen else { return }  // a closed file closed its objects
        H5Library.quiet()
        H5Oclose(id)
    }

    func enter(_ operation: String) throws -> H5Site {
        try file.enter(operation, object: path)
    }

    /// The absolute path of a child given by a relative (or absolute) name.
    func childPath(_ name: String) -> String {
        if name.hasPrefix("/") { return name }
        return path == "/" ? "/" + name : path + "/" + name
    }

    // MARK: Writing attributes

    public func setAttribute(_ name: String, _ value: String) throws {
        let site = try enter("set attribute '\(name)'")
        let operation = "set attribute '\(name)'"
        let type = try site.check(H5Tcopy(dh5_c_s1()), operation)
        defer { H5Tclose(type) }
        try site.check(H5Tset_size(type, dh5_t_variable()), operation)
        try site.check(H5Tset_cset(type, H5T_CSET_UTF8), operation)
        let space = try site.check(H5Screate(H5S_SCALAR), operation)
        defer { H5Sclose(space) }
        let attribute = try createAttribute(name, type: type, space: space, site)
        defer { H5Aclose(attribute) }
        try value.withCString { characters in
            var pointer: UnsafePointer<CChar>? = characters
            try site.check(H5Awrite(attribute, type, &pointer), operation)
        }
    }

    public func setAttribute(_ name: String, _ value: Int64) throws { try setNumbers(name, [value], scalar: true) }
    public func setAttribute(_ name: String, _ value: Int) throws { try setNumbers(name, [Int64(value)], scalar: true) }
    public func setAttribute(_ name: String, _ value: Double) throws { try setNumbers(name, [value], scalar: true) }
    public func setAttribute(_ name: String, _ values: [Int64]) throws { try setNumbers(name, values, scalar: false) }
    public func setAttribute(_ name: String, _ values: [Double]) throws { try setNumbers(name, values, scalar: false) }
    public func setAttribute(_ name: String, _ values: [Float]) throws { try setNumbers(name, values, scalar: false) }

    private func setNumbers<T: H5Scalar>(_ name: String, _ values: [T], scalar: Bool) throws {
        let operation = "set attribute '\(name)'"
        let site = try enter(operation)
        var count = hsize_t(values.count)
        let space = try site.check(scalar ? H5Screate(H5S_SCALAR) : H5Screate_simple(1, &count, nil), operation)
        defer { H5Sclose(space) }
        let element = T.h5ElementType
        try element.withDatatype(stored: true, site) { stored in
            let attribute = try createAttribute(name, type: stored, space: space, site)
            defer { H5Aclose(attribute) }
            guard !values.isEmpty else { return }  // an empty array attribute has no data to write
            try element.withDatatype(stored: false, site) { memory in
                try values.withUnsafeBytes { try site.check(H5Awrite(attribute, memory, $0.baseAddress!), operation) }
            }
        }
    }

    private func createAttribute(_ name: String, type: hid_t, space: hid_t, _ site: H5Site) throws -> hid_t {
        let operation = "set attribute '\(name)'"
        if try site.check(H5Aexists(id, name), operation) > 0 {
            try site.check(H5Adelete(id, name), operation)
        }
        return try site.check(H5Acreate2(id, name, type, space, h5Default, h5Default), operation)
    }

    // MARK: Reading attributes

    public func stringAttribute(_ name: String) throws -> String {
        let operation = "read string attribute '\(name)'"
        let site = try enter(operation)
        let attribute = try site.check(H5Aopen(id, name, h5Default), operation)
        defer { H5Aclose(attribute) }
        let stored = try site.check(H5Aget_type(attribute), operation)
        defer { H5Tclose(stored) }
        guard H5Tget_class(stored) == H5T_STRING else {
            throw site.error(operation, "the attribute is not a string")
        }
        let space = try site.check(H5Aget_space(attribute), operation)
        defer { H5Sclose(space) }
        guard H5Sget_simple_extent_npoints(space) == 1 else {
            throw site.error(operation, "the attribute holds \(H5Sget_simple_extent_npoints(space)) strings, not one")
        }
        let memory = try site.check(H5Tcopy(dh5_c_s1()), operation)
        defer { H5Tclose(memory) }
        try site.check(H5Tset_cset(memory, H5Tget_cset(stored)), operation)
        if try site.check(H5Tis_variable_str(stored), operation) > 0 {
            try site.check(H5Tset_size(memory, dh5_t_variable()), operation)
            var pointer: UnsafeMutablePointer<CChar>? = nil
            try site.check(H5Aread(attribute, memory, &pointer), operation)
            defer { if let pointer { H5free_memory(pointer) } }
            return pointer.map { String(cString: $0) } ?? ""
        }
        // Fixed length: read the bytes with room for a terminator; stop at the first NUL.
        let length = H5Tget_size(stored)
        try site.check(H5Tset_size(memory, length + 1), operation)
        try site.check(H5Tset_strpad(memory, H5T_STR_NULLTERM), operation)
        var bytes = [UInt8](repeating: 0, count: length + 1)
        try site.check(H5Aread(attribute, memory, &bytes), operation)
        let text = bytes.prefix { $0 != 0 }
        return String(decoding: text, as: UTF8.self)
    }

    public func int64Attribute(_ name: String) throws -> Int64 { try scalar(name, as: Int64.self) }
    public func doubleAttribute(_ name: String) throws -> Double { try scalar(name, as: Double.self) }
    public func int64ArrayAttribute(_ name: String) throws -> [Int64] { try numbers(name, as: Int64.self) }
    public func doubleArrayAttribute(_ name: String) throws -> [Double] { try numbers(name, as: Double.self) }
    public func floatArrayAttribute(_ name: String) throws -> [Float] { try numbers(name, as: Float.self) }

    private func scalar<T: H5Scalar>(_ name: String, as type: T.Type) throws -> T {
        let values = try numbers(name, as: type)
        guard values.count == 1 else {
            throw try enter("read attribute '\(name)'").error("read attribute '\(name)'",
                "the attribute holds \(values.count) values, not one")
        }
        return values[0]
    }

    /// Reads a numeric attribute as T. HDF5 converts the stored type; integers are
    /// read only from integer attributes (a real number would be truncated).
    private func numbers<T: H5Scalar>(_ name: String, as type: T.Type) throws -> [T] {
        let operation = "read attribute '\(name)'"
        let site = try enter(operation)
        let attribute = try site.check(H5Aopen(id, name, h5Default), operation)
        defer { H5Aclose(attribute) }
        let stored = try site.check(H5Aget_type(attribute), operation)
        defer { H5Tclose(stored) }
        let storedClass = H5Tget_class(stored)
        guard storedClass == H5T_INTEGER || (storedClass == H5T_FLOAT && T.h5ElementType.isFloat) else {
            throw site.error(operation, "the attribute is not \(T.h5ElementType.isFloat ? "numeric" : "an integer")")
        }
        let space = try site.check(H5Aget_space(attribute), operation)
        defer { H5Sclose(space) }
        let count = Int(H5Sget_simple_extent_npoints(space))
        guard count > 0 else { return [] }
        return try [T](unsafeUninitializedCapacity: count) { buffer, initialized in
            try T.h5ElementType.withDatatype(stored: false, site) { memory in
                try site.check(H5Aread(attribute, memory, buffer.baseAddress!), operation)
            }
            initialized = count
        }
    }

    // MARK: Listing attributes

    public func hasAttribute(_ name: String) throws -> Bool {
        let operation = "look up attribute '\(name)'"
        let site = try enter(operation)
        return try site.check(H5Aexists(id, name), operation) > 0
    }

    /// Attribute names in alphabetical order.
    public var attributeNames: [String] {
        get throws {
            let operation = "list attributes"
            let site = try enter(operation)
            let count = dh5_attribute_count(id)
            if count < 0 { throw site.hdf5Error(operation) }
            return try (0..<hsize_t(count)).map { index in
                try Self.name(site, operation) { buffer, size in
                    H5Aget_name_by_idx(id, ".", H5_INDEX_NAME, H5_ITER_INC, index, buffer, size, h5Default)
                }
            }
        }
    }

    /// Calls an HDF5 "get name" function twice: for the length, then for the text.
    static func name(_ site: H5Site, _ operation: String,
                     _ get: (UnsafeMutablePointer<CChar>?, Int) -> Int) throws -> String {
        let length = get(nil, 0)
        if length < 0 { throw site.hdf5Error(operation) }
        var buffer = [CChar](repeating: 0, count: length + 1)
        if get(&buffer, length + 1) < 0 { throw site.hdf5Error(operation) }
        return String(cString: buffer)
    }
}
