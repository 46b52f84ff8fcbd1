// WebRTC is off in Silmaril (the extension host is Electron: node-datachannel's addon cannot load there).
// Exports the names webrtc-polyfill exports, all undefined, so simple-peer sees "no WebRTC support".
module.exports = {
  RTCPeerConnection: undefined,
  RTCSessionDescription: undefined,
  RTCIceCandidate: undefined,
  RTCIceTransport: undefined,
  RTCDataChannel: undefined,
  RTCSctpTransport: undefined,
  RTCDtlsTransport: undefined,
  RTCCertificate: undefined,
  MediaStream: undefined,
  MediaStreamTrack: undefined,
};
