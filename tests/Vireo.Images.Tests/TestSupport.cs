using Vireo.Tests;

namespace Vireo.Images.Tests;

/// <summary>A scratch directory under /tmp, deleted at dispose.</summary>
internal sealed class TempDir : IDisposable
{
    public TempDir()
    {
        Path = Directory.CreateTempSubdirectory("vireo-img-").FullName;
    }

    public string Path { get; }

    public string File(string name) => System.IO.Path.Combine(Path, name);

    public void Dispose()
    {
        try
        {
            Directory.Delete(Path, recursive: true);
        }
        catch (IOException)
        {
        }
    }
}

/// <summary>Runs the real qemu-img / qemu-io (Debian qemu-utils) with an argument array.</summary>
internal static class Qemu
{
    public static (int Exit, string Out, string Err) Run(string tool, params string[] args) => Tool.Run(tool, args);

    public static string Img(params string[] args)
    {
        var (exit, o, e) = Run("qemu-img", args);
        Assert.True(exit == 0, $"qemu-img {string.Join(' ', args)} failed ({exit}): {o}{e}");
        return o;
    }

    public static void Io(string file, string fmt, params string[] commands)
    {
        var args = new List<string> { "-f", fmt };
        foreach (var c in commands)
        {
            args.Add("-c");
            args.Add(c);
        }

        args.Add(file);
        var (exit, o, e) = Run("qemu-io", [.. args]);
        Assert.True(exit == 0 && !o.Contains("error", StringComparison.OrdinalIgnoreCase) && !o.Contains("failed", StringComparison.OrdinalIgnoreCase), $"qemu-io failed: {o}{e}");
    }

    /// <summary>qemu-img check must find no errors and no leaks.</summary>
    public static void AssertClean(string file)
    {
        var (exit, o, e) = Run("qemu-img", "check", file);
        Assert.True(exit == 0, $"qemu-img check {file} exit {exit}: {o}{e}");
    }
}

/// <summary>The image as a byte array, read through the engine.</summary>
internal static class ImageBytes
{
    public static byte[] ReadAll(IBlockImage img)
    {
        var buf = new byte[img.VirtualSize];
        img.ReadAsync(0, buf).AsTask().GetAwaiter().GetResult();
        return buf;
    }

    public static byte[] ReadAll(string path, ImageFormat? fmt = null)
    {
        using var img = DiskImage.Open(path, fmt, readOnly: true);
        return ReadAll(img);
    }
}
