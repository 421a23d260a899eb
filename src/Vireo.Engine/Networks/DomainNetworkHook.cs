using Vireo.Engine.Domains;
using Vireo.Model;
using Vireo.Qemu.Qmp;

namespace Vireo.Engine.Networks;

/// <summary>
/// The networking step of a domain start: TAPs for the domain's network/bridge/ethernet interfaces, their fds
/// passed to QEMU (<c>-netdev tap,fd=N</c>), and their removal at stop. Register with
/// <c>services.StartHooks.Add(new DomainNetworkHook(networks))</c>.
/// </summary>
public sealed class DomainNetworkHook : IDomainStartHook
{
    private readonly InterfacePlumber _plumber;

    public DomainNetworkHook(NetworkManager networks)
    {
        _plumber = new InterfacePlumber(networks);
    }

    public async ValueTask PrepareAsync(DomainStartContext context, CancellationToken ct)
    {
        var def = context.Definition;
        var plumbed = await _plumber.PlumbAllAsync(def.Name, def.Uuid, def.Devices.Interfaces, ct).ConfigureAwait(false);
        foreach (var p in plumbed)
        {
            context.Resources.AddRange(p.Resources);
            context.OwnedHandles.Add(p);
        }

        foreach (var p in plumbed)
        {
            if (p.TapFds.Length != 1)
            {
                // DomainStartContext carries one TAP fd per interface; multiqueue needs it to carry all of them.
                throw VireoException.Unsupported($"domain '{def.Name}' interface {p.Index}: <driver queues> > 1 is not supported yet");
            }

            context.InterfaceTapFds[p.Index] = context.PassFd(p.TapFds[0]);
        }
    }

    /// <summary>The TAP for one interface hot-plugged into a running domain (null when its type needs none).</summary>
    public Task<PlumbedInterface?> PlumbOneAsync(Model.Domains.DomainDefinition def, Model.Domains.NetInterface iface, int index, CancellationToken ct) =>
        _plumber.PlumbAsync(def.Name, def.Uuid, iface, index, ct);

    public ValueTask BeforeContinueAsync(DomainStartContext context, QmpClient qmp, CancellationToken ct) => ValueTask.CompletedTask;

    public void Release(string domainName, IReadOnlyList<string> resources) =>
        InterfacePlumber.Release(resources.Where(r => r.StartsWith("tap:", StringComparison.Ordinal) || r.StartsWith("ovs-port:", StringComparison.Ordinal)).ToList());
}
