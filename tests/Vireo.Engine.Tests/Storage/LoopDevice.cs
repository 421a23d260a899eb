using System.Diagnostics;

namespace Vireo.Engine.Tests.Storage;

/// <summary>A loop device over a sparse file, detached and removed on dispose.</summary>
public sealed class LoopDevice : IDisposable
{
    public LoopDevice(string backingFile, long size)
    {
        BackingFile = backingFile;
        using (var fs = new FileStream(backingFile, FileMode.CreateNew))
        {
            fs.SetLength(size);
        }

        Path = Run("losetup", "--find", "--show", backingFile).Trim();
    }

    public string BackingFile { get; }

    public string Path { get; }

    public static string Run(params string[] argv)
    {
        var psi = new ProcessStartInfo(argv[0]) { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in argv.Skip(1))
        {
            psi.ArgumentList.Add(a);
        }

        psi.Environment["LVM_SUPPRESS_FD_WARNINGS"] = "1";
        using var p = Process.Start(psi)!;
        var err = p.StandardError.ReadToEndAsync();
        string output = p.StandardOutput.ReadToEnd();
        p.WaitForExit();
        if (p.ExitCode != 0)
        {
            throw new InvalidOperationException($"{string.Join(' ', argv)} failed ({p.ExitCode}): {err.Result}");
        }

        return output;
    }

    public void Dispose()
    {
        try
        {
            Run("losetup", "-d", Path);
        }
        catch (InvalidOperationException)
        {
        }

        File.Delete(BackingFile);
    }
}
