namespace Vireo.Images;

/// <summary>
/// A disk image is malformed, unsupported or cannot do what was asked. Derives from
/// <see cref="IOException"/> so callers that only know I/O errors still report it cleanly.
/// </summary>
public sealed class ImageException : IOException
{
    public ImageException(string message, Exception? inner = null)
        : base(message, inner)
    {
    }

    /// <summary>True when the image's metadata is inconsistent (as opposed to a bad request).</summary>
    public bool IsCorruption { get; init; }

    internal static ImageException Corrupt(string path, string message) =>
        new($"'{path}': image is corrupt: {message}") { IsCorruption = true };
}
