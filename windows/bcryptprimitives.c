/*
 * A stand-in for bcryptprimitives.dll, which Wine 8.0 lacks.
 *
 * Rust's standard library (1.78 and later) takes its random numbers from
 * ProcessPrng in bcryptprimitives.dll (Windows 10 and later). Without the
 * DLL every Rust executable fails to load under Wine 8.0 (exit code 53).
 * This DLL exports ProcessPrng and answers it with RtlGenRandom
 * (SystemFunction036 in advapi32), which Wine has. It is installed only in
 * the Wine prefix that scripts/windows-test.sh prepares; on Windows itself
 * the system's own DLL is used.
 *
 * Build: x86_64-w64-mingw32-gcc -shared -O2 -o bcryptprimitives.dll \
 *        bcryptprimitives.c -ladvapi32
 */
#include <windows.h>

BOOLEAN WINAPI SystemFunction036(PVOID buffer, ULONG length);

__declspec(dllexport) BOOL WINAPI ProcessPrng(PBYTE data, SIZE_T length)
{
    /* RtlGenRandom takes a 32-bit length: fill large buffers in pieces. */
    while (length > 0) {
        ULONG piece = length > 0x10000000 ? 0x10000000 : (ULONG)length;
        if (!SystemFunction036(data, piece))
            return FALSE;
        data += piece;
        length -= piece;
    }
    return TRUE;
}
