/*
 * A stand-in for Windows' bcryptprimitives.dll, for running Rust programs under Wine.
 *
 * Rust's standard library (1.78 and later) seeds its hash maps with ProcessPrng from
 * bcryptprimitives.dll, which Windows 10 and later have and Wine 8 lacks: without it a Rust
 * program does not even load. This DLL, put beside the executable, provides ProcessPrng over
 * RtlGenRandom (advapi32's SystemFunction036), which Wine has. It is for the tests only and
 * ships with nothing.
 */
#include <windows.h>

/* RtlGenRandom: its exported name is SystemFunction036. */
BOOLEAN WINAPI SystemFunction036(PVOID buffer, ULONG length);

/* Fills `data` with `length` random bytes; always TRUE on Windows, so a failure here aborts
 * the process rather than hand out predictable bytes. */
__declspec(dllexport) BOOL WINAPI ProcessPrng(PBYTE data, SIZE_T length)
{
    while (length > 0) {
        ULONG chunk = length > 0x10000000 ? 0x10000000 : (ULONG)length;
        if (!SystemFunction036(data, chunk)) {
            ExitProcess(0xC0000001); /* STATUS_UNSUCCESSFUL */
        }
        data += chunk;
        length -= chunk;
    }
    return TRUE;
}
