using Vireo.Engine.Domains;
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

        var interfaces = def.Devices.Interfaces.ToArray();
        foreach (var p in plumbed)
        {
            // One fd per queue (fd=N, or fds=a:b with mq=on for multiqueue) and one vhost-net fd per queue.
            int[] queues = [.. p.TapFds.Select(context.PassFd)];
            if (queues.Length == 1)
            {
                context.InterfaceTapFds[p.Index] = queues[0];
            }
            else
            {
                context.InterfaceTapQueueFds[p.Index] = queues;
            }

            if (p.VhostFds.Length > 0)
            {
                context.InterfaceVhostFds[p.Index] = [.. p.VhostFds.Select(context.PassFd)];
            }

            // The live definition names the TAP, as libvirt's does: domifaddr, domifstat and dumpxml read it there.
            interfaces[p.Index] = interfaces[p.Index] with { TargetDev = p.TapName };
        }

        context.Definition = def with { Devices = def.Devices with { Interfaces = interfaces } };
    }

    /// <summary>The TAP for one interface hot-plugged into a running domain (null when its type needs none).</summary>
    public Task<PlumbedInterface?> PlumbOneAsync(Model.Domains.DomainDefinition def, Model.Domains.NetInterface iface, int index, CancellationToken ct) =>
        _plumber.PlumbAsync(def.Name, def.Uuid, iface, index, ct);

    public ValueTask BeforeContinueAsync(DomainStartContext context, QmpClient qmp, CancellationToken ct) => ValueTask.CompletedTask;

    public void Release(string domainName, IReadOnlyList<string> resources) =>
        InterfacePlumber.Release(resources.Where(r => r.StartsWith("tap:", StringComparison.Ordinal) || r.StartsWith("ovs-port:", StringComparison.Ordinal)).ToList());
}
