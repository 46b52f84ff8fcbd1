// uTP is off in Silmaril (utp-native is a native addon): an empty module, so webtorrent never enables it.
module.exports = {};
