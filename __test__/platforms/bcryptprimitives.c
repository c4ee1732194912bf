/*
 * Test-only stand-in for Windows' bcryptprimitives.dll, for running under Wine 8.0, which
 * lacks it. Rust's standard library (1.78+) imports ProcessPrng from it for random numbers
 * (HashMap seeds); Windows 10 and later have it. Backed by RtlGenRandom (SystemFunction036
 * in advapi32), which Wine has. Built by scripts/test-platforms.js with mingw-w64 into the
 * emulation's own Wine prefix; never shipped.
 */
#include <windows.h>

BOOLEAN WINAPI SystemFunction036(PVOID buffer, ULONG length);

__declspec(dllexport) BOOL WINAPI ProcessPrng(PBYTE data, SIZE_T length) {
  while (length > 0) {
    ULONG chunk = length > 0x10000000 ? 0x10000000 : (ULONG)length;
    if (!SystemFunction036(data, chunk)) return FALSE;
    data += chunk;
    length -= chunk;
  }
  return TRUE;
}
