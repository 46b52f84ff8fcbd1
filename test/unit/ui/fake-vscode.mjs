// The few parts of the `vscode` module the views use, for unit tests under node (vscode-hook.mjs maps the import
// here). Plain data holders: what a view sets on them is what the test reads back.
class EventEmitter {
  listeners = [];
  fired = 0;
  event = (listener) => {
    this.listeners.push(listener);
    return { dispose: () => (this.listeners = this.listeners.filter((l) => l !== listener)) };
  };
  fire(e) {
    this.fired++;
    for (const l of this.listeners) l(e);
  }
  dispose() {
    this.listeners = [];
  }
}
const TreeItemCollapsibleState = { None: 0, Collapsed: 1, Expanded: 2 };
class TreeItem {
  constructor(label, collapsibleState = 0) {
    this.label = label;
    this.collapsibleState = collapsibleState;
  }
  label;
  collapsibleState;
  id;
  description;
  tooltip;
  iconPath;
  contextValue;
  resourceUri;
  command;
}
class ThemeColor {
  constructor(id) {
    this.id = id;
  }
  id;
}
class ThemeIcon {
  constructor(id, color) {
    this.id = id;
    this.color = color;
  }
  id;
  color;
}
class MarkdownString {
  value = '';
  constructor(value = '') {
    this.value = value;
  }
  appendMarkdown(s) {
    this.value += s;
    return this;
  }
  appendText(s) {
    this.value += s;
    return this;
  }
}
const Uri = {
  file: (fsPath) => ({ fsPath, scheme: 'file', toString: () => `file://${fsPath}` }),
  joinPath: (base, ...parts) => Uri.file([base.fsPath, ...parts].join('/')),
};
const StatusBarAlignment = { Left: 1, Right: 2 };
const window = {
  createStatusBarItem: () => ({ text: '', tooltip: '', name: '', command: '', show() {}, dispose() {} }),
  showErrorMessage: async () => void 0,
};
const commands = { executeCommand: async () => void 0 };
const workspace = { isTrusted: true };
export {
  EventEmitter,
  MarkdownString,
  StatusBarAlignment,
  ThemeColor,
  ThemeIcon,
  TreeItem,
  TreeItemCollapsibleState,
  Uri,
  commands,
  window,
  workspace,
};
