using Vireo.Model;

namespace Vireo.Cli.Commands.Pool;

/// <summary>vol-upload and vol-download: a local file into or out of a volume.</summary>
internal static class VolumeTransfer
{
    public static async Task<int> Upload(CommandContext c)
    {
        int pos = 0;
        var v = PoolCli.Volume(c, ref pos);
        string file = c.Args.Required("file", ref pos, "<file>");
        c.Args.NoMorePositionals(pos, c.Spec.Name);
        long offset = PoolCli.Bytes(c, "offset") ?? 0;
        long? length = PoolCli.Bytes(c, "length");
        FileStream input;
        try
        {
            input = new FileStream(file, FileMode.Open, FileAccess.Read, FileShare.Read, 1, FileOptions.Asynchronous | FileOptions.SequentialScan);
        }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException)
        {
            throw VireoException.Invalid($"vol-upload: cannot open '{file}': no such file or directory");
        }

        await using (input.ConfigureAwait(false))
        {
            await PoolCli.Manager.UploadVolumeAsync(v, input, offset, length, c.Args.Has("sparse"), PoolCli.Progress(c, "Uploading")).ConfigureAwait(false);
        }

        return 0;
    }

    public static async Task<int> Download(CommandContext c)
    {
        int pos = 0;
        var v = PoolCli.Volume(c, ref pos);
        string file = c.Args.Required("file", ref pos, "<file>");
        c.Args.NoMorePositionals(pos, c.Spec.Name);
        long offset = PoolCli.Bytes(c, "offset") ?? 0;
        long? length = PoolCli.Bytes(c, "length");
        var output = new FileStream(file, FileMode.Create, FileAccess.ReadWrite, FileShare.None, 1, FileOptions.Asynchronous);
        bool ok = false;
        try
        {
            await PoolCli.Manager.DownloadVolumeAsync(v, output, offset, length, c.Args.Has("sparse"), PoolCli.Progress(c, "Downloading")).ConfigureAwait(false);
            ok = true;
        }
        finally
        {
            await output.DisposeAsync().ConfigureAwait(false);
            if (!ok)
            {
                File.Delete(file);
            }
        }

        return 0;
    }
}
