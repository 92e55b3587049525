import type { DaemonPeer, Settings } from './settings.js'

// The peers figures: the same request/reply through the switch and through what a user would pick instead, each
// system's server, responder and callers in processes of their own, with the CPU each process spent.

export type PeerSystem = 'bare' | 'switch' | 'durable' | DaemonPeer | 'aedes'
/** 1 caller; many callers each with its own client; the same many sharing one client. */
export type PeerMode = 'c1' | 'many' | 'shared'
export type PeerProcess = 'server' | 'responder' | 'callers'

export interface PeerSpec {
  system: PeerSystem
  label: string
  /** What each process involved is, in the table. */
  processes: Partial<Record<PeerProcess, string>>
}

const SPECS: Record<PeerSystem, PeerSpec> = {
  bare: {
    system: 'bare',
    label: 'one bare HTTP exchange (undici → Fastify echo)',
    processes: { server: 'Fastify', callers: "callers' process" }
  },
  switch: {
    system: 'switch',
    label: 'switch (client.rpc / client.serve)',
    processes: { server: 'switch', responder: 'responder', callers: "callers' process" }
  },
  durable: {
    system: 'durable',
    label: 'switch --data-dir (client.rpc / client.serve)',
    processes: { server: 'switch', responder: 'responder', callers: "callers' process" }
  },
  nats: {
    system: 'nats',
    label: 'NATS request-reply (nats-server, nats.js)',
    processes: { server: 'nats-server', responder: 'responder', callers: "callers' process" }
  },
  mosquitto: {
    system: 'mosquitto',
    label: 'Mosquitto, MQTT 5 QoS 1, response topics (mqtt.js)',
    processes: { server: 'mosquitto', responder: 'responder', callers: "callers' process" }
  },
  aedes: {
    system: 'aedes',
    label: 'Aedes, MQTT 3.1.1 QoS 1 (mqtt.js)',
    processes: { server: 'aedes', responder: 'responder', callers: "callers' process" }
  }
}

/** The systems of a run, in table order: the bare exchange, the switch (in memory, then durable), then the peers. */
export function peerSpecs (s: Settings): PeerSpec[] {
  return [SPECS.bare, SPECS.switch, SPECS.durable, ...s.daemonPeers.map((peer) => SPECS[peer]), SPECS.aedes]
}

export const PEER_MODES: PeerMode[] = ['c1', 'many', 'shared']

export function modeLabel (s: Settings, mode: PeerMode): string {
  if (mode === 'c1') return '1 caller'
  if (mode === 'many') return `${s.peerCallers} callers, each its own client`
  return `${s.peerCallers} callers sharing one client`
}

/** Calls in flight and clients they are spread over. */
export function modeLoad (s: Settings, mode: PeerMode): { concurrency: number, clients: number } {
  if (mode === 'c1') return { concurrency: 1, clients: 1 }
  return { concurrency: s.peerCallers, clients: mode === 'many' ? s.peerCallers : 1 }
}

/**
 * Whether a system has the mode: one undici connection shared by many callers is just one caller at a time; the
 * durable switch is measured where its target is, with many callers each its own client.
 */
export function hasMode (system: PeerSystem, mode: PeerMode): boolean {
  if (system === 'durable') return mode === 'many'
  return !(system === 'bare' && mode === 'shared')
}

/** The bare exchange's figures a system's figures are read against in a mode (shared: the many callers'). */
export function bareOf (mode: PeerMode): string {
  return `peers.bare.${mode === 'shared' ? 'many' : mode}`
}

export function peerId (system: PeerSystem, mode: PeerMode): string {
  return `peers.${system}.${mode}`
}

/** The switch's own work per round trip (see jobs/switch-work.ts), shown with the figures of the load it stands for. */
export const SWITCH_WORK = { id: 'peers.switch.many.work', of: peerId('switch', 'many') }
