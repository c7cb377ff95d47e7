// The generated protobuf bindings, re-exported under short names. Import wire types from here,
// never from src/gen directly, so 64-bit fields decode as numbers (see long-as-number.ts).
import './long-as-number.js';
import { pushlab } from '../gen/pushlab.js';

export const wire = pushlab.v1;
export const CloseCode = pushlab.v1.CloseCode;
export type CloseCode = pushlab.v1.CloseCode;
export const Priority = pushlab.v1.Priority;
export type Priority = pushlab.v1.Priority;
export const Platform = pushlab.v1.Platform;
export type Platform = pushlab.v1.Platform;
export const ResumeStatus = pushlab.v1.ResumeResult.Status;
export type ResumeStatus = pushlab.v1.ResumeResult.Status;

export type Frame = pushlab.v1.Frame;
export type FrameInit = pushlab.v1.Frame.$Properties;
export type Hello = pushlab.v1.Hello.$Properties;
export type Welcome = pushlab.v1.Welcome.$Properties;
export type Push = pushlab.v1.Push.$Properties;
export type Ack = pushlab.v1.Ack.$Properties;
export type Publish = pushlab.v1.Publish.$Properties;
export type PublishAck = pushlab.v1.PublishAck.$Properties;

export const PROTOCOL_VERSION = 1;
