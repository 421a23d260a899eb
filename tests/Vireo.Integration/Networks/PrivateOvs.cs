using System.Diagnostics;
using System.Globalization;

namespace Vireo.Integration.Networks;

/// <summary>
/// A private Open vSwitch for one test: ovsdb-server on a socket in the test's state root and ovs-vswitchd with the
/// userspace (netdev) datapath inside the test's host namespace (the kernel has no openvswitch module). vireo finds
/// it through <c>VIREO_OVS_DB</c>. Dispose stops both daemons by their pid files.
/// </summary>
internal sealed class PrivateOvs : IDisposable
{
    private readonly string _dir;

    public PrivateOvs(NetTestHost t)
    {
        _dir = Path.Combine(t.Root, "ovs");
        Directory.CreateDirectory(_dir);
        NetTestHost.Run("ovsdb-tool", "create", Path.Combine(_dir, "conf.db"), "/usr/share/openvswitch/vswitch.ovsschema").Ensure();
        NetTestHost.Run("ovsdb-server", Path.Combine(_dir, "conf.db"), $"--remote=punix:{Socket}", $"--pidfile={_dir}/ovsdb.pid",
            $"--unixctl={_dir}/ovsdb.ctl", "--detach", $"--log-file={_dir}/ovsdb.log").Ensure();
        Vsctl("--no-wait", "init");
        NetTestHost.In(t.Host, "ovs-vswitchd", $"unix:{Socket}", $"--pidfile={_dir}/vswitchd.pid", $"--unixctl={_dir}/vswitchd.ctl",
            "--detach", $"--log-file={_dir}/vswitchd.log", "--disable-system").Ensure();
        t.Environment["VIREO_OVS_DB"] = $"unix:{Socket}";
    }

    public string Socket => Path.Combine(_dir, "db.sock");

    /// <summary>Runs ovs-vsctl against this switch and returns its output, trimmed.</summary>
    public string Vsctl(params string[] args) =>
        NetTestHost.Run(["ovs-vsctl", "--timeout=20", $"--db=unix:{Socket}", .. args]).Ensure().StdOut.Trim();

    public void Dispose()
    {
        foreach (string pidFile in (string[])["vswitchd.pid", "ovsdb.pid"])
        {
            try
            {
                using var p = Process.GetProcessById(int.Parse(File.ReadAllText(Path.Combine(_dir, pidFile)).Trim(), CultureInfo.InvariantCulture));
                p.Kill();
                p.WaitForExit(5000);
            }
            catch (Exception e) when (e is IOException or ArgumentException or InvalidOperationException or FormatException)
            {
            }
        }
    }
}
