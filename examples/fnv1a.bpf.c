// Demo program for the bare interpreter: a 64-bit FNV-1a hash over a buffer, written in the
// conformance-suite calling convention (r1 = pointer to the bytes, r2 = their length), so it runs
// without any program type, map or helper.
typedef unsigned char u8;
typedef unsigned long long u64;

__attribute__((section("hash"), used))
u64 fnv1a(const u8 *data, u64 len)
{
    u64 hash = 0xcbf29ce484222325ULL;
    for (u64 i = 0; i < len && i < 4096; i++) {
        hash ^= data[i];
        hash *= 0x100000001b3ULL;
    }
    return hash;
}
