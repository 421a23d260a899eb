using Vireo.Images;

namespace Vireo.Cli.Commands.Img;

/// <summary><c>img snapshot -l</c>: lists internal snapshots in qemu-img's table.</summary>
internal static class ImgSnapshotCommand
{
    public static int Run(CommandContext ctx, IReadOnlyList<string> raw)
    {
        var a = ImgArgs.Parse("snapshot", raw, "fcad", "lqU", ["object", "image-opts"], ["force-share"]);
        if (a.Positionals.Count != 1)
        {
            throw new ImageException("snapshot: expecting one image file name");
        }

        if (a.Has("c") || a.Has("a") || a.Has("d"))
        {
            throw new ImageException("snapshot: creating, applying and deleting snapshots is not implemented yet in Vireo (use qemu-img snapshot)");
        }

        if (!a.Has("l"))
        {
            throw new ImageException("snapshot: one of -l, -c, -a or -d is required");
        }

        var info = DiskImage.Inspect(a.Positionals[0], a.Format("f"));
        if (info.Snapshots.Count > 0)
        {
            ctx.Out.WriteLine("Snapshot list:");
            ImgInfoCommand.WriteSnapshotTable(ctx.Out, info.Snapshots);
        }

        return 0;
    }
}
