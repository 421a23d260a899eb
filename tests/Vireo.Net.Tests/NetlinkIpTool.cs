using System.Diagnostics;

namespace Vireo.Net.Tests;

/// <summary>iproute2, used only by tests to cross-check what Vireo did through netlink.</summary>
internal static class IpTool
{
    public static string Run(params string[] args) => Exec("ip", args);

    public static string Exec(string program, params string[] args)
    {
        var psi = new ProcessStartInfo(program) { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (string a in args)
        {
            psi.ArgumentList.Add(a);
        }
        using var p = Process.Start(psi)!;
        string stdout = p.StandardOutput.ReadToEnd();
        string stderr = p.StandardError.ReadToEnd();
        p.WaitForExit();
        Assert.True(p.ExitCode == 0, $"{program} {string.Join(' ', args)} exited {p.ExitCode}: {stderr}");
        return stdout;
    }
}
