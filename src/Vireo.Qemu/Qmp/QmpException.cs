namespace Vireo.Qemu.Qmp;

/// <summary>
/// QEMU answered a QMP command with an error. <see cref="ErrorClass"/> is QMP's class (GenericError,
/// CommandNotFound, DeviceNotFound, ...), <see cref="Description"/> QEMU's own sentence, which the message repeats.
/// </summary>
public sealed class QmpException : Exception
{
    public QmpException(string command, string errorClass, string description)
        : base($"QEMU refused '{command}': {description}")
    {
        Command = command;
        ErrorClass = errorClass;
        Description = description;
    }

    public string Command { get; }

    public string ErrorClass { get; }

    public string Description { get; }
}
