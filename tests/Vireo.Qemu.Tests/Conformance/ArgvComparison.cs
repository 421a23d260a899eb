namespace Vireo.Qemu.Tests.Conformance;

/// <summary>
/// Compares Vireo's argv with libvirt's expected one by meaning: the same devices (by id), buses and addresses, and
/// the same drive, netdev, chardev and object properties; ignoring order, ids that only link options together, fd
/// numbers, and the documented differences below.
/// </summary>
internal static class ArgvComparison
{
    /// <summary>
    /// Documented differences, each ignored on both sides:
    /// libvirt's master-key secret, monitor and sandbox; <c>-msg</c>; the audio backend (Vireo adds one only for
    /// VNC and sound); <c>-overcommit mem-lock=off</c> (QEMU's default); q35's built-in iTCO defaults (<c>ICH9-LPC.noreboot=off</c>,
    /// <c>-watchdog-action reset</c>, QEMU's defaults); QEMU 9.1's <c>dies=1</c>/<c>clusters=1</c> in -smp,
    /// thread-context objects and prealloc-context (QEMU 9.1 preallocation threads); hugetlbfs mount paths, which
    /// are host-specific, as are firmware image paths; libvirt's scsi <c>device_id</c>; libvirt's
    /// <c>x-use-canonical-path-for-ramblock-id</c> (a migration compatibility knob).
    /// </summary>
    public static List<string> Facts(IEnumerable<ArgvOption> options, bool expectedSide, List<ArgvOption>? expected = null)
    {
        var facts = new List<string>();
        foreach (ArgvOption o in options)
        {
            var p = new Dictionary<string, string>(o.Props, StringComparer.Ordinal);
            switch (o.Flag)
            {
                case "-S" or "-msg" or "-sandbox" or "-audiodev" or "-mon":
                    continue;
                case "-overcommit" when o.Raw == "mem-lock=off":
                    continue;
                case "-global" when o.Raw == "ICH9-LPC.noreboot=off":
                    continue;
                case "-watchdog-action" when o.Raw == "reset":
                    continue;
                case "-object" when p.GetValueOrDefault("qom-type") is "secret" or "thread-context":
                    continue;
                case "-chardev" when p.GetValueOrDefault("id") == "charmonitor":
                    continue;
                case "-object":
                    p.Remove("prealloc-context");
                    p.Remove("x-use-canonical-path-for-ramblock-id");
                    if (p.ContainsKey("mem-path"))
                    {
                        p["mem-path"] = "*";
                    }
                    break;
                case "-smp":
                    if (p.GetValueOrDefault("dies") == "1")
                    {
                        p.Remove("dies");
                    }
                    if (p.GetValueOrDefault("clusters") == "1")
                    {
                        p.Remove("clusters");
                    }
                    break;
                case "-vnc":
                    p.Remove("audiodev");
                    break;
                case "-device":
                    foreach (string link in (string[])["drive", "netdev", "chardev", "memdev", "rng", "tpmdev", "fsdev", "device_id", "audiodev"])
                    {
                        p.Remove(link);
                    }
                    break;
                case "-netdev":
                    foreach (string fd in (string[])["fd", "fds", "vhostfd", "vhostfds"])
                    {
                        if (p.ContainsKey(fd))
                        {
                            p[fd] = "*";
                        }
                    }
                    break;
                case "-blockdev":
                    p.Remove("node-name");
                    if (p.TryGetValue("file", out string? file) && !file.Contains('/', StringComparison.Ordinal))
                    {
                        p.Remove("file");
                    }
                    if (p.ContainsKey("backing"))
                    {
                        p["backing"] = "*";
                    }
                    if (p.TryGetValue("filename", out string? fw) && fw.Contains("OVMF", StringComparison.OrdinalIgnoreCase))
                    {
                        p["filename"] = "*";
                    }
                    break;
                case "-chardev":
                    // libvirt hands QEMU pre-opened listening sockets (fd=N) where Vireo gives a path.
                    string? id = p.GetValueOrDefault("id");
                    bool fdOnOtherSide = expected?.Exists(e => e.Flag == "-chardev" && e.Get("id") == id && e.Props.ContainsKey("fd")) == true;
                    if (p.ContainsKey("fd") || fdOnOtherSide)
                    {
                        p.Remove("fd");
                        p.Remove("path");
                    }
                    break;
            }
            facts.Add(o.Flag + " " + string.Join(',', p.OrderBy(kv => kv.Key, StringComparer.Ordinal).Select(kv => kv.Key + "=" + kv.Value)));
        }
        facts.Sort(StringComparer.Ordinal);
        return facts;
    }

    /// <summary>The facts only in <paramref name="expected"/> (missing) and only in <paramref name="actual"/> (extra).</summary>
    public static (List<string> Missing, List<string> Extra) Diff(List<string> expected, List<string> actual)
    {
        var extra = new List<string>(actual);
        var missing = new List<string>();
        foreach (string e in expected)
        {
            if (!extra.Remove(e))
            {
                missing.Add(e);
            }
        }
        return (missing, extra);
    }
}
