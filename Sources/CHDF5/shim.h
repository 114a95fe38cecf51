#ifndef DISTILLERY_CHDF5_SHIM_H
#define DISTILLERY_CHDF5_SHIM_H
#include <hdf5.h>

// Swift cannot import macros that expand to H5OPEN globals; expose them as functions.
static inline hid_t dh5_native_float(void)  { return H5T_NATIVE_FLOAT; }
static inline hid_t dh5_native_double(void) { return H5T_NATIVE_DOUBLE; }
static inline hid_t dh5_native_int8(void)   { return H5T_NATIVE_INT8; }
static inline hid_t dh5_native_uint8(void)  { return H5T_NATIVE_UINT8; }
static inline hid_t dh5_native_int16(void)  { return H5T_NATIVE_INT16; }
static inline hid_t dh5_native_uint16(void) { return H5T_NATIVE_UINT16; }
static inline hid_t dh5_native_int32(void)  { return H5T_NATIVE_INT32; }
static inline hid_t dh5_native_uint32(void) { return H5T_NATIVE_UINT32; }
static inline hid_t dh5_native_int64(void)  { return H5T_NATIVE_INT64; }
static inline hid_t dh5_ieee_f32le(void)    { return H5T_IEEE_F32LE; }
static inline hid_t dh5_c_s1(void)          { return H5T_C_S1; }
static inline hid_t dh5_p_file_create(void) { return H5P_FILE_CREATE; }
static inline hid_t dh5_p_file_access(void) { return H5P_FILE_ACCESS; }
static inline hid_t dh5_p_dataset_create(void) { return H5P_DATASET_CREATE; }
static inline hid_t dh5_p_dataset_access(void) { return H5P_DATASET_ACCESS; }
static inline hid_t dh5_p_dataset_xfer(void) { return H5P_DATASET_XFER; }
static inline hid_t dh5_p_link_create(void) { return H5P_LINK_CREATE; }
static inline unsigned dh5_f_acc_trunc(void) { return H5F_ACC_TRUNC; }
static inline unsigned dh5_f_acc_excl(void)  { return H5F_ACC_EXCL; }
static inline unsigned dh5_f_acc_rdonly(void) { return H5F_ACC_RDONLY; }
static inline unsigned dh5_f_acc_rdwr(void)  { return H5F_ACC_RDWR; }
static inline hsize_t dh5_s_unlimited(void)  { return H5S_UNLIMITED; }

// --- Added for the HDF5 Swift module (Sources/HDF5) ---
static inline hid_t dh5_native_uint64(void) { return H5T_NATIVE_UINT64; }
static inline hid_t dh5_ieee_f64le(void)    { return H5T_IEEE_F64LE; }
static inline hid_t dh5_std_i8le(void)      { return H5T_STD_I8LE; }
static inline hid_t dh5_std_u8le(void)      { return H5T_STD_U8LE; }
static inline hid_t dh5_std_i16le(void)     { return H5T_STD_I16LE; }
static inline hid_t dh5_std_u16le(void)     { return H5T_STD_U16LE; }
static inline hid_t dh5_std_i32le(void)     { return H5T_STD_I32LE; }
static inline hid_t dh5_std_u32le(void)     { return H5T_STD_U32LE; }
static inline hid_t dh5_std_i64le(void)     { return H5T_STD_I64LE; }
static inline hid_t dh5_s_all(void)         { return H5S_ALL; }
static inline hid_t dh5_e_default(void)     { return H5E_DEFAULT; }
static inline size_t dh5_t_variable(void)   { return H5T_VARIABLE; }

// A 2-byte float type: sign bit 15, exponent at 10 (5 bits, bias 15), mantissa 10 bits
// for IEEE half; exponent at 7 (8 bits, bias 127), mantissa 7 bits for bfloat16.
// HDF5 1.10 has no predefined 16-bit floats. The caller closes the returned type.
static inline hid_t dh5_create_float16(int bfloat16) {
    hid_t t = H5Tcopy(H5T_IEEE_F32LE);
    if (t < 0) return t;
    herr_t ok = bfloat16 ? H5Tset_fields(t, 15, 7, 8, 0, 7) : H5Tset_fields(t, 15, 10, 5, 0, 10);
    if (ok >= 0) ok = H5Tset_size(t, 2);
    if (ok >= 0) ok = H5Tset_ebias(t, bfloat16 ? 127 : 15);
    if (ok < 0) { H5Tclose(t); return -1; }
    return t;
}

// The type (H5O_TYPE_GROUP, H5O_TYPE_DATASET, ...) of the object at name, or -1.
static inline int dh5_object_type(hid_t loc, const char *name) {
    H5O_info_t info;
    if (H5Oget_info_by_name2(loc, name, &info, H5O_INFO_BASIC, H5P_DEFAULT) < 0) return -1;
    return (int)info.type;
}

// The number of attributes of an object, or -1.
static inline long long dh5_attribute_count(hid_t obj) {
    H5O_info_t info;
    if (H5Oget_info2(obj, &info, H5O_INFO_NUM_ATTRS) < 0) return -1;
    return (long long)info.num_attrs;
}
#endif
