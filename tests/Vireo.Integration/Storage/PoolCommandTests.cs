using System.Text.Json;
using Vireo.Cli;
using Vireo.Cli.Commands.Pool;
using Vireo.Engine.State;
using Vireo.Engine.Storage;

namespace Vireo.Integration.Storage;

/// <summary>Every pool-* and vol-* command, in-process, on dir pools under a private state root.</summary>
public sealed class PoolCommandTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("vireo-poolcli-").FullName;
    private readonly StoragePoolManager _manager;
    private readonly List<(string domain, string path)> _inUse = [];

    public PoolCommandTests()
    {
        var paths = new VireoPaths(Path.Combine(_dir, "root"), Path.Combine(_dir, "root", "run"));
        _manager = new StoragePoolManager(paths, new Usage(_inUse));
    }

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private sealed class Usage(List<(string, string)> list) : IVolumeUsage
    {
        public IEnumerable<(string domain, string path)> InUse() => list;
    }

    private async Task<(int Code, string Out, string Err)> Vireo(params string[] args)
    {
        using var scope = PoolCli.Use(_manager);
        var o = new StringWriter();
        var e = new StringWriter();
        int code = await Program.RunAsync(args, o, e);
        return (code, o.ToString(), e.ToString());
    }

    private async Task<string> Ok(params string[] args)
    {
        var (code, o, e) = await Vireo(args);
        Assert.True(code == 0, $"vireo {string.Join(' ', args)} exited {code}: {e}");
        Assert.Equal("", e);
        return o;
    }

    private async Task<string> Fails(params string[] args)
    {
        var (code, o, e) = await Vireo(args);
        Assert.Equal(1, code);
        Assert.StartsWith("error: ", e, StringComparison.Ordinal);
        Assert.Equal("", o);
        return e;
    }

    [Fact]
    public async Task PoolLifecycleCommands()
    {
        string target = Path.Combine(_dir, "imgs");
        Assert.Equal("Pool p1 defined\n\n", await Ok("pool-define-as", "p1", "dir", "--target", target));
        Assert.Equal($"<pool type='dir'>\n  <name>p2</name>\n  <target>\n    <path>{target}2</path>\n  </target>\n</pool>\n",
            await Ok("pool-define-as", "p2", "dir", "-", "-", "-", "-", target + "2", "--print-xml"));
        Assert.Equal("Pool p1 built\n\n", await Ok("pool-build", "p1"));
        Assert.Equal("Pool p1 started\n\n", await Ok("pool-start", "p1"));
        Assert.Equal("Pool p1 marked as autostarted\n\n", await Ok("pool-autostart", "p1"));
        Assert.Equal(
            " Name      State    Autostart\n" +
            "------------------------------\n" +
            " default   active   yes\n" +
            " p1        active   yes\n\n", await Ok("pool-list"));
        string details = await Ok("pool-list", "--all", "--details");
        Assert.Matches(@"^ Name +State +Autostart +Persistent +Capacity +Allocation +Available\n-+\n default +running +yes +yes +[0-9.]+ [KMGT]iB", details);

        string info = await Ok("pool-info", "p1");
        Assert.Matches(@"^Name: +p1\nUUID: +[0-9a-f-]{36}\nState: +running\nPersistent: +yes\nAutostart: +yes\nCapacity: +[0-9.]+ \w+\nAllocation: +[0-9.]+ \w+\nAvailable: +[0-9.]+ \w+\n\n$", info);
        using (var doc = JsonDocument.Parse(await Ok("pool-info", "p1", "--json")))
        {
            Assert.Equal("running", doc.RootElement.GetProperty("state").GetString());
            Assert.True(doc.RootElement.GetProperty("capacity").GetInt64() > 0);
        }

        using (var doc = JsonDocument.Parse(await Ok("pool-list", "--all", "--json")))
        {
            Assert.Equal(["default", "p1"], doc.RootElement.EnumerateArray().Select(p => p.GetProperty("name").GetString()));
        }

        string uuid = (await Ok("pool-uuid", "p1")).Trim();
        Assert.Equal("p1\n\n", await Ok("pool-name", uuid));
        Assert.Contains($"<path>{target}</path>", await Ok("pool-dumpxml", "p1"), StringComparison.Ordinal);
        Assert.Equal("Pool p1 refreshed\n\n", await Ok("pool-refresh", "p1"));

        Assert.Contains("is active", await Fails("pool-delete", "p1"), StringComparison.Ordinal);
        Assert.Equal("Pool p1 destroyed\n\n", await Ok("pool-destroy", "p1"));
        Assert.Equal(" Name   State      Autostart\n-----------------------------\n p1     inactive   yes\n\n", await Ok("pool-list", "--inactive"));
        Assert.Equal("Pool p1 unmarked as autostarted\n\n", await Ok("pool-autostart", "p1", "--disable"));
        Assert.Equal("Pool p1 deleted\n\n", await Ok("pool-delete", "p1"));
        Assert.False(Directory.Exists(target));
        Assert.Equal("Pool p1 has been undefined\n\n", await Ok("pool-undefine", "p1"));
        Assert.Contains("storage pool 'p1' not found", await Fails("pool-info", "p1"), StringComparison.Ordinal);
    }

    [Fact]
    public async Task PoolDefineAndCreateFromFiles()
    {
        string xmlFile = Path.Combine(_dir, "pool.xml");
        File.WriteAllText(xmlFile, $"<pool type='dir'><name>fp</name><target><path>{_dir}/fp</path></target></pool>");
        Assert.Equal($"Pool fp defined from {xmlFile}\n\n", await Ok("pool-define", xmlFile));
        Assert.Equal("Pool fp started\n\n", await Ok("pool-start", "fp", "--build"));
        File.WriteAllText(xmlFile, $"<pool type='dir'><name>tp</name><target><path>{_dir}/tp</path></target></pool>");
        Assert.Equal($"Pool tp created from {xmlFile}\n\n", await Ok("pool-create", xmlFile, "--build"));
        Assert.Equal("Pool tq created\n\n", await Ok("pool-create-as", "tq", "dir", "--target", _dir + "/tq", "--build"));
        Assert.Contains("transient", await Fails("pool-undefine", "tq"), StringComparison.Ordinal);
        Assert.Contains("'../x'", await Fails("pool-define-as", "../x", "dir", "--target", "/tmp/x"), StringComparison.Ordinal);
        Assert.Contains("zfs", await Fails("pool-define-as", "z", "zfs", "--target", "/tmp/z"), StringComparison.Ordinal);
        File.WriteAllText(xmlFile, "<!DOCTYPE pool [<!ENTITY e SYSTEM 'file:///etc/passwd'>]><pool type='dir'><name>&e;</name></pool>");
        Assert.Contains("DTD", await Fails("pool-define", xmlFile), StringComparison.Ordinal);
    }

    [Fact]
    public async Task PoolEditRunsTheEditorAndRedefines()
    {
        await Ok("pool-define-as", "ed", "dir", "--target", _dir + "/ed");
        string script = Path.Combine(_dir, "edit.sh");
        File.WriteAllText(script, "#!/bin/sh\nsed -i 's|</target>|<permissions><mode>0700</mode></permissions></target>|' \"$1\"\n");
        File.SetUnixFileMode(script, UnixFileMode.UserRead | UnixFileMode.UserExecute);
        string? old = Environment.GetEnvironmentVariable("VISUAL");
        try
        {
            Environment.SetEnvironmentVariable("VISUAL", "/bin/true");
            Assert.Equal("Pool ed XML configuration not changed.\n\n", await Ok("pool-edit", "ed"));
            Environment.SetEnvironmentVariable("VISUAL", script);
            Assert.Equal("Pool ed XML configuration edited.\n\n", await Ok("pool-edit", "ed"));
            Assert.Contains("<mode>0700</mode>", await Ok("pool-dumpxml", "ed", "--inactive"), StringComparison.Ordinal);
        }
        finally
        {
            Environment.SetEnvironmentVariable("VISUAL", old);
        }
    }

    [Fact]
    public async Task VolumeCommands()
    {
        string target = Path.Combine(_dir, "v");
        await Ok("pool-define-as", "vp", "dir", "--target", target);
        await Ok("pool-start", "vp", "--build");
        Assert.Equal("Vol base.qcow2 created\n\n", await Ok("vol-create-as", "vp", "base.qcow2", "64M", "--format", "qcow2", "--prealloc-metadata"));
        Assert.Equal("Vol top.qcow2 created\n\n",
            await Ok("vol-create-as", "vp", "top.qcow2", "64M", "--format", "qcow2", "--backing-vol", "base.qcow2", "--backing-vol-format", "qcow2"));
        Assert.Equal("Vol disk.img created\n\n", await Ok("vol-create-as", "vp", "disk.img", "1M", "--allocation", "0"));
        string list = await Ok("vol-list", "vp");
        Assert.Matches(@"^ Name +Path\n-+\n", list);
        Assert.Contains($" base.qcow2   {target}/base.qcow2\n", list, StringComparison.Ordinal);
        Assert.Contains($" top.qcow2    {target}/top.qcow2\n", list, StringComparison.Ordinal);
        Assert.Matches(@" disk\.img +\S+/disk\.img +file +1\.00 MiB +[0-9.]+ \w+\n", await Ok("vol-list", "vp", "--details"));
        using (var doc = JsonDocument.Parse(await Ok("vol-list", "vp", "--json")))
        {
            var top = doc.RootElement.EnumerateArray().Single(v => v.GetProperty("name").GetString() == "top.qcow2");
            Assert.Equal($"{target}/base.qcow2", top.GetProperty("backing_path").GetString());
            Assert.Equal(64 << 20, top.GetProperty("capacity").GetInt64());
        }

        Assert.Matches(@"^Name: +top\.qcow2\nType: +file\nCapacity: +64\.00 MiB\nAllocation: +[0-9.]+ \w+\n\n$", await Ok("vol-info", "top.qcow2", "--pool", "vp"));
        Assert.Matches(@"Capacity: +67108864 bytes", await Ok("vol-info", $"{target}/top.qcow2", "--bytes"));
        using (var doc = JsonDocument.Parse(await Ok("vol-info", "top.qcow2", "--pool", "vp", "--json")))
        {
            Assert.Equal("qcow2", doc.RootElement.GetProperty("format").GetString());
        }

        Assert.Equal($"{target}/top.qcow2\n\n", await Ok("vol-path", "top.qcow2", "--pool", "vp"));
        Assert.Equal($"{target}/top.qcow2\n\n", await Ok("vol-key", "top.qcow2", "--pool", "vp"));
        Assert.Equal("top.qcow2\n\n", await Ok("vol-name", $"{target}/top.qcow2"));
        Assert.Equal("vp\n\n", await Ok("vol-pool", $"{target}/top.qcow2"));
        Assert.Matches("^[0-9a-f-]{36}\n\n$", await Ok("vol-pool", $"{target}/top.qcow2", "--uuid"));
        string xml = await Ok("vol-dumpxml", "top.qcow2", "--pool", "vp");
        Assert.StartsWith("<volume type='file'>\n  <name>top.qcow2</name>\n", xml, StringComparison.Ordinal);
        Assert.Contains("<capacity unit='bytes'>67108864</capacity>", xml, StringComparison.Ordinal);

        Assert.Equal("Vol copy.qcow2 cloned from top.qcow2\n\n", await Ok("vol-clone", "top.qcow2", "copy.qcow2", "--pool", "vp"));
        string volXml = Path.Combine(_dir, "vol.xml");
        File.WriteAllText(volXml, "<volume><name>fromxml.img</name><capacity unit='KiB'>512</capacity></volume>");
        Assert.Equal($"Vol fromxml.img created from {volXml}\n\n", await Ok("vol-create", "vp", volXml));
        File.WriteAllText(volXml, "<volume><name>flat.img</name><capacity>0</capacity><target><format type='raw'/></target></volume>");
        Assert.Equal("Vol flat.img created from input vol top.qcow2\n\n", await Ok("vol-create-from", "vp", volXml, "top.qcow2", "--inputpool", "vp"));
        Assert.Equal("Size of volume 'disk.img' successfully changed to 2M\n\n", await Ok("vol-resize", "disk.img", "2M", "--pool", "vp"));
        Assert.Equal("Size of volume 'disk.img' successfully changed to 1M\n\n", await Ok("vol-resize", "disk.img", "1M", "--pool", "vp", "--delta"));
        Assert.Contains("--shrink", await Fails("vol-resize", "disk.img", "1M", "--pool", "vp"), StringComparison.Ordinal);
        Assert.Equal("Size of volume 'disk.img' successfully changed to -1M\n\n", await Ok("vol-resize", "disk.img", "-1M", "--pool", "vp", "--delta", "--shrink"));
        Assert.Matches("Capacity: +2097152 bytes", await Ok("vol-info", "disk.img", "--pool", "vp", "--bytes"));

        // Upload a file, download it back, byte for byte.
        byte[] data = new byte[1 << 20];
        new Random(1).NextBytes(data.AsSpan(0, 4096));
        string src = Path.Combine(_dir, "up.bin");
        File.WriteAllBytes(src, data);
        Assert.Equal("", await Ok("vol-upload", "disk.img", src, "--pool", "vp", "--sparse"));
        string dst = Path.Combine(_dir, "down.bin");
        Assert.Equal("", await Ok("vol-download", "disk.img", dst, "--pool", "vp", "--length", "1M", "--sparse"));
        Assert.Equal(data, File.ReadAllBytes(dst));
        Assert.Equal("", await Ok("vol-download", "disk.img", dst, "--pool", "vp", "--offset", "4096", "--length", "4096"));
        Assert.Equal(4096, new FileInfo(dst).Length);

        _inUse.Add(("web1", $"{target}/top.qcow2"));
        string err = await Fails("vol-delete", "base.qcow2", "--pool", "vp");
        Assert.Contains("'vp'", err, StringComparison.Ordinal);
        Assert.Contains("'base.qcow2'", err, StringComparison.Ordinal);
        Assert.Contains("'web1'", err, StringComparison.Ordinal);
        Assert.Contains("'web1'", await Fails("vol-wipe", "top.qcow2", "--pool", "vp"), StringComparison.Ordinal);
        Assert.Contains("--force", await Fails("pool-destroy", "vp"), StringComparison.Ordinal);
        _inUse.Clear();

        Assert.Equal("Vol disk.img wiped\n\n", await Ok("vol-wipe", "disk.img", "--pool", "vp"));
        Assert.Equal("Vol top.qcow2 deleted\n\n", await Ok("vol-delete", "top.qcow2", "--pool", "vp"));
        Assert.Equal("Vol copy.qcow2 deleted\n\n", await Ok("vol-delete", $"{target}/copy.qcow2"));
        Assert.Contains("'nope'", await Fails("vol-info", "nope", "--pool", "vp"), StringComparison.Ordinal);
        Assert.Contains("'../etc'", await Fails("vol-create-as", "vp", "../etc", "1M"), StringComparison.Ordinal);
        Assert.Contains("--format 'vmdk'", await Fails("vol-create-as", "vp", "x.vmdk", "1M", "--format", "vmdk"), StringComparison.Ordinal);
        Assert.Contains("size", await Fails("vol-create-as", "vp", "x.img", "lots"), StringComparison.Ordinal);
    }
}
