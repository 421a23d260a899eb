using System.Text;
using Vireo.Cli.Commands.Img;
using Vireo.Images;

namespace Vireo.Cli.Tests;

/// <summary>qemu-img's --object secret and --image-opts grammar; secret values never appear in errors.</summary>
public sealed class ImgSecretsTests
{
    private static ImgArgs Args(params string[] a) =>
        ImgArgs.Parse("convert", a, "fO", "", ["object", "key-secret"], ["image-opts"]);

    [Fact]
    public void ParsesDataFileAndBase64Secrets()
    {
        string file = Path.GetTempFileName();
        try
        {
            File.WriteAllText(file, "from-file");
            var a = Args("--object", "secret,id=a,data=pw,,x", "--object", $"secret,id=b,file={file}", "--object", "secret,id=c,data=cHc=,format=base64", "x", "y");
            var s = ImgSecrets.Parse(a);
            Assert.Equal("pw,x", Encoding.UTF8.GetString(s["a"]));
            Assert.Equal("from-file", Encoding.UTF8.GetString(s["b"]));
            Assert.Equal("pw", Encoding.UTF8.GetString(s["c"]));
        }
        finally
        {
            File.Delete(file);
        }
    }

    [Fact]
    public void ImageOptsNameFileFormatAndKey()
    {
        var a = Args("--object", "secret,id=sec0,data=pw", "--image-opts", "driver=qcow2,file.filename=x.qcow2,encrypt.key-secret=sec0", "out.raw");
        var src = ImgSecrets.Source(a, ImgSecrets.Parse(a), a.Positionals[0], null);
        Assert.Equal("x.qcow2", src.Path);
        Assert.Equal(ImageFormat.Qcow2, src.Format);
        Assert.Equal("pw"u8.ToArray(), src.Password);

        var b = Args("--object", "secret,id=k,data=pw", "--key-secret", "k", "-f", "luks", "x.luks", "out.raw");
        var s2 = ImgSecrets.Source(b, ImgSecrets.Parse(b), b.Positionals[0], b.Format("f"));
        Assert.Equal(("x.luks", ImageFormat.Luks), (s2.Path, s2.Format));
        Assert.Equal("pw"u8.ToArray(), s2.Password);
    }

    [Theory]
    [InlineData("secret,id=s,hunter2", "part 3 is not key=value")]
    [InlineData("secret,id=s,data=hunter2,file=f", "exactly one")]
    [InlineData("secret,id=s,data=hunter2,format=hex", "invalid format 'hex'")]
    [InlineData("secret,id=s,data=hunter2!,format=base64", "not valid base64")]
    [InlineData("secret,data=hunter2", "'id' is missing")]
    [InlineData("tls-creds-x509,id=t", "type 'tls-creds-x509' is not supported")]
    public void BadSecretsAreClearErrorsWithoutTheValue(string spec, string message)
    {
        var e = Assert.Throws<ImageException>(() => ImgSecrets.Parse(Args("--object", spec, "x", "y")));
        Assert.Contains(message, e.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("hunter2", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void UnknownSecretIdAndImageOptsKeysAreRefused()
    {
        var a = Args("--image-opts", "driver=qcow2,file.filename=x,encrypt.key-secret=nope", "y");
        Assert.Contains("no secret with id 'nope'", Assert.Throws<ImageException>(() => ImgSecrets.Source(a, ImgSecrets.Parse(a), a.Positionals[0], null)).Message, StringComparison.Ordinal);
        var b = Args("--image-opts", "driver=qcow2,file.filename=x,cache.direct=on", "y");
        Assert.Contains("'cache.direct' is not supported", Assert.Throws<ImageException>(() => ImgSecrets.Source(b, ImgSecrets.Parse(b), b.Positionals[0], null)).Message, StringComparison.Ordinal);
    }
}
