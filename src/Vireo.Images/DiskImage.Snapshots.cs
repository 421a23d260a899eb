using Vireo.Images.Qcow2;

namespace Vireo.Images;

/// <summary>What <see cref="DiskImage.Snapshot"/> does, after qemu-img snapshot's -c, -a and -d.</summary>
public enum SnapshotAction
{
    Create,
    Apply,
    Delete,
}

public static partial class DiskImage
{
    /// <summary>Creates, applies (reverts to) or deletes an internal snapshot of a qcow2 image.</summary>
    public static void Snapshot(string path, SnapshotAction action, string name, ImageFormat? format = null)
    {
        using var img = OpenLayer(path, format ?? Probe(path), false, new ImageOpenOptions { NoBacking = true }, [], 0, top: true);
        if (img is not Qcow2Image q)
        {
            throw new ImageException($"'{path}': format 'raw' does not support internal snapshots");
        }

        switch (action)
        {
            case SnapshotAction.Create:
                q.CreateSnapshot(name, DateTimeOffset.UtcNow);
                break;
            case SnapshotAction.Apply:
                q.ApplySnapshot(name);
                break;
            case SnapshotAction.Delete:
                q.DeleteSnapshot(name);
                break;
        }
    }
}
