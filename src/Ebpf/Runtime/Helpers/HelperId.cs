namespace Ebpf.Runtime.Helpers;

/// <summary>Kernel helper ids (__BPF_FUNC_MAPPER order) of the helpers this runtime implements.</summary>
public static class HelperId
{
    public const int MapLookupElem = 1;
    public const int MapUpdateElem = 2;
    public const int MapDeleteElem = 3;
    public const int ProbeRead = 4;
    public const int KtimeGetNs = 5;
    public const int TracePrintk = 6;
    public const int GetPrandomU32 = 7;
    public const int GetSmpProcessorId = 8;
    public const int SkbStoreBytes = 9;
    public const int L3CsumReplace = 10;
    public const int L4CsumReplace = 11;
    public const int TailCall = 12;
    public const int GetCurrentPidTgid = 14;
    public const int GetCurrentUidGid = 15;
    public const int GetCurrentComm = 16;
    public const int Redirect = 23;
    public const int PerfEventOutput = 25;
    public const int SkbLoadBytes = 26;
    public const int CsumDiff = 28;
    public const int CsumUpdate = 40;
    public const int GetNumaNodeId = 42;
    public const int XdpAdjustHead = 44;
    public const int ProbeReadStr = 45;
    public const int RedirectMap = 51;
    public const int XdpAdjustMeta = 54;
    public const int XdpAdjustTail = 65;
    public const int MapPushElem = 87;
    public const int MapPopElem = 88;
    public const int MapPeekElem = 89;
    public const int SpinLock = 93;
    public const int SpinUnlock = 94;
    public const int ProbeReadUser = 112;
    public const int ProbeReadKernel = 113;
    public const int ProbeReadUserStr = 114;
    public const int ProbeReadKernelStr = 115;
    public const int Jiffies64 = 118;
    public const int KtimeGetBootNs = 125;
    public const int RingbufOutput = 130;
    public const int RingbufReserve = 131;
    public const int RingbufSubmit = 132;
    public const int RingbufDiscard = 133;
    public const int RingbufQuery = 134;
    public const int KtimeGetCoarseNs = 160;
    public const int ForEachMapElem = 164;
    public const int Snprintf = 165;
    public const int XdpGetBuffLen = 188;
    public const int GetFuncIp = 173;
    public const int GetAttachCookie = 174;
    public const int TraceVprintk = 177;
    public const int Loop = 181;
    public const int Strncmp = 182;
}
