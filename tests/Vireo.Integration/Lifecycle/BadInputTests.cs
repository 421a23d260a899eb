using System.Security.Cryptography;
using Vireo.Integration.Guest;
using Vireo.Integration.Infrastructure;

namespace Vireo.Integration.Lifecycle;

/// <summary>
/// Bad input gets one line on stderr starting "error:", exit status 1, and changes nothing on disk.
/// </summary>
public sealed class BadInputTests : IDisposable
{
    private readonly VireoCli _vireo = new();
    private readonly TestGuest _guest = TestGuest.Get();

    public void Dispose() => _vireo.Dispose();

    public static TheoryData<string, string, string> BadDomainXml => new()
    {
        { "malformed", "<domain type='qemu'><name>x</name>", "malformed domain XML" },
        { "dtd", "<!DOCTYPE domain [<!ENTITY x SYSTEM 'file:///etc/passwd'>]><domain type='qemu'><name>&x;</name><memory>1024</memory></domain>", "DTD" },
        { "slash", "<domain type='qemu'><name>a/b</name><memory>65536</memory><os><type>hvm</type></os></domain>", "a/b" },
        { "memory0", "<domain type='qemu'><name>m0</name><memory>0</memory><os><type>hvm</type></os></domain>", "memory" },
        { "badunit", "<domain type='qemu'><name>u</name><memory unit='parsecs'>1</memory><os><type>hvm</type></os></domain>", "parsecs" },
    };

    [Theory]
    [MemberData(nameof(BadDomainXml))]
    public async Task Define_RefusesBadXml_AndChangesNothing(string label, string xml, string mentioned)
    {
        await DefineGood("keeper");
        string file = Path.Combine(_vireo.Root, label + ".xml");
        await File.WriteAllTextAsync(file, xml);
        string before = Snapshot();
        var r = await _vireo.RunAsync("define", file);
        AssertOneError(r, mentioned);
        Assert.Equal(before, Snapshot());
    }

    [Fact]
    public async Task DuplicateNameOrUuid_IsRefused()
    {
        string uuid = "6a4b0c7e-2f33-4c1e-9d0a-1b2c3d4e5f60";
        await DefineGood("first", uuid);
        string before = Snapshot();

        string sameName = Path.Combine(_vireo.Root, "same-name.xml");
        await File.WriteAllTextAsync(sameName, GuestDomain.Xml(_guest, "first", uuid: "11111111-2222-3333-4444-555555555555"));
        AssertOneError(await _vireo.RunAsync("define", sameName), "already exists");

        string sameUuid = Path.Combine(_vireo.Root, "same-uuid.xml");
        await File.WriteAllTextAsync(sameUuid, GuestDomain.Xml(_guest, "second", uuid: uuid));
        AssertOneError(await _vireo.RunAsync("define", sameUuid), uuid);
        Assert.Equal(before, Snapshot());
    }

    [Theory]
    [InlineData("start")]
    [InlineData("destroy")]
    [InlineData("dominfo")]
    [InlineData("undefine")]
    [InlineData("suspend")]
    public async Task UnknownDomain_IsAClearError(string command)
    {
        await DefineGood("keeper");
        string before = Snapshot();
        AssertOneError(await _vireo.RunAsync(command, "nosuchdomain"), "nosuchdomain");
        AssertOneError(await _vireo.RunAsync(command, "../keeper"), "../keeper");
        Assert.Equal(before, Snapshot());
    }

    [Fact]
    public async Task NotRunning_IsAClearError()
    {
        await DefineGood("idle");
        string before = Snapshot();
        AssertOneError(await _vireo.RunAsync("suspend", "idle"), "not running");
        AssertOneError(await _vireo.RunAsync("shutdown", "idle"), "not running");
        AssertOneError(await _vireo.RunAsync("destroy", "idle"), "not running");
        Assert.Equal(before, Snapshot());
    }

    [Fact]
    public async Task UnknownCommandAndFlag_AreClearErrors()
    {
        AssertOneError(await _vireo.RunAsync("frobnicate"), "frobnicate");
        AssertOneError(await _vireo.RunAsync("list", "--bogus"), "--bogus");
        AssertOneError(await _vireo.RunAsync("define", "/nonexistent/dom.xml"), "/nonexistent/dom.xml");
    }

    [Fact]
    public async Task KvmDomain_OnAHostWhereKvmDoesNotWork_SaysWhy()
    {
        string file = Path.Combine(_vireo.Root, "kvm.xml");
        await File.WriteAllTextAsync(file, GuestDomain.Xml(_guest, "kvmguest", type: "kvm"));
        (await _vireo.RunAsync("define", file)).EnsureSuccess();
        var r = await _vireo.RunAsync("start", "kvmguest");
        if (Directory.Exists("/sys/module/kvm_pvm") || !File.Exists("/dev/kvm"))
        {
            AssertOneError(r, "<domain type='qemu'>");
            Assert.Equal("shut off", (await _vireo.RunAsync("domstate", "kvmguest")).Stdout.Trim());
        }
        else
        {
            // Where KVM works the domain runs on it.
            r.EnsureSuccess();
            (await _vireo.RunAsync("destroy", "kvmguest")).EnsureSuccess();
        }
    }

    private async Task DefineGood(string name, string? uuid = null)
    {
        string file = Path.Combine(_vireo.Root, name + ".good.xml");
        await File.WriteAllTextAsync(file, GuestDomain.Xml(_guest, name, uuid: uuid));
        (await _vireo.RunAsync("define", file)).EnsureSuccess();
    }

    private static void AssertOneError(CliResult r, string mentioned)
    {
        Assert.Equal(1, r.ExitCode);
        string err = r.Stderr.TrimEnd('\n');
        Assert.StartsWith("error: ", err, StringComparison.Ordinal);
        Assert.DoesNotContain('\n', err);
        Assert.Contains(mentioned, err, StringComparison.Ordinal);
        Assert.DoesNotContain("   at ", err, StringComparison.Ordinal);
    }

    /// <summary>Every file under the state root (except test inputs) with a hash of its content.</summary>
    private string Snapshot()
    {
        var lines = new List<string>();
        foreach (string f in Directory.EnumerateFiles(_vireo.Root, "*", SearchOption.AllDirectories).Order(StringComparer.Ordinal))
        {
            if (f.EndsWith(".xml", StringComparison.Ordinal) && Path.GetDirectoryName(f) == _vireo.Root)
            {
                continue;
            }

            if (f.EndsWith(".lock", StringComparison.Ordinal))
            {
                continue;
            }

            lines.Add(f + " " + Convert.ToHexString(SHA256.HashData(File.ReadAllBytes(f))));
        }

        return string.Join('\n', lines);
    }
}
