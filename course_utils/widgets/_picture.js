// The widgets' picture (course_utils/widgets/_picture.py): an <img> with a text alternative, a polite live
// region that keeps its place across redraws, optional click reporting, and (fix_controls) the keyboard and
// screen-reader fixes of the explorer's ipywidgets controls around it. Plain DOM, nothing fetched.

const LIVE_DELAY_MS = 250; // the live region speaks once the controls rest (not once per key held down)
const CONTROL = 'select, button, input, textarea, [role="slider"], [contenteditable="true"]';
// keys a focused control acts on itself: JupyterLab's command-mode shortcuts (move the cell selection,
// enter edit mode ...) must not see them; with a modifier (Shift+Enter, Ctrl+S) or Tab/Escape they pass
const OWN_KEYS = new Set(["ArrowUp", "ArrowDown", "ArrowLeft", "ArrowRight", "Home", "End", "PageUp",
                          "PageDown", " ", "Enter"]);
let counter = 0;

function ensureId(el, prefix) {
  if (!el.id) el.id = `${prefix}-${Math.random().toString(36).slice(2, 8)}-${++counter}`;
  return el.id;
}

function setAttr(el, name, value) {
  if (value === null) {
    if (el.hasAttribute(name)) el.removeAttribute(name);
  } else if (el.getAttribute(name) !== value) {
    el.setAttribute(name, value);
  }
}

function onKeydown(event) {
  if (event.ctrlKey || event.metaKey || event.altKey) return;
  if (!OWN_KEYS.has(event.key) || (event.key === "Enter" && event.shiftKey)) return;
  const target = event.target;
  if (target instanceof Element && target.matches(CONTROL)) event.stopPropagation();
}

// Names from the visible labels, disabled sliders out of the Tab order, hints tied to the controls.
function fixControls(root) {
  for (const slider of root.querySelectorAll(".widget-slider")) {
    const label = slider.querySelector(":scope > .widget-label");
    const named = label && label.textContent.trim() !== "";
    const labelId = named ? ensureId(label, "cu-label") : null;
    const target = slider.querySelector(".noUi-target");
    const disabled = !!(target && target.hasAttribute("disabled"));
    for (const handle of slider.querySelectorAll(".noUi-handle")) {
      setAttr(handle, "aria-labelledby", labelId);
      setAttr(handle, "tabindex", disabled ? "-1" : "0");
      setAttr(handle, "aria-disabled", disabled ? "true" : null);
    }
    const readout = slider.querySelector(".widget-readout");
    if (readout) {
      setAttr(readout, "aria-labelledby", labelId);
      setAttr(readout, "role", "textbox");
      setAttr(readout, "aria-disabled", disabled ? "true" : null);
    }
  }
  for (const group of root.querySelectorAll(".widget-toggle-buttons")) {
    const label = group.querySelector(":scope > .widget-label");
    setAttr(group, "role", "group");
    if (label && label.textContent.trim()) setAttr(group, "aria-labelledby", ensureId(label, "cu-label"));
  }
  const hint = root.querySelector(".cu-hint .widget-html-content");
  if (hint) {
    const hintId = ensureId(hint, "cu-hint");
    for (const hinted of root.querySelectorAll(".cu-hinted")) {
      for (const control of hinted.querySelectorAll(CONTROL)) setAttr(control, "aria-describedby", hintId);
    }
  }
}

function installControlFixes(root) {
  if (root.__cuControls) return root.__cuControls;
  let scheduled = false;
  const apply = () => { scheduled = false; fixControls(root); };
  const observer = new MutationObserver(() => {
    if (!scheduled) { scheduled = true; queueMicrotask(apply); }
  });
  observer.observe(root, {subtree: true, childList: true, attributes: true, attributeFilter: ["disabled"]});
  root.addEventListener("keydown", onKeydown);
  root.dataset.cuKeyboard = "own-keys";
  fixControls(root);
  root.__cuControls = {
    release() {
      observer.disconnect();
      root.removeEventListener("keydown", onKeydown);
      delete root.__cuControls;
    },
  };
  return root.__cuControls;
}

// Calls fn(root) once el sits inside an explorer (.cu-explorer) in the page; a view is rendered before its
// container inserts it. Gives up after ~20 s (a picture shown outside an explorer).
function whenInExplorer(el, fn) {
  let tries = 0, timer = null;
  const look = () => {
    const root = el.isConnected ? el.closest(".cu-explorer") : null;
    if (root) { fn(root); return; }
    if (++tries < 400) timer = setTimeout(look, 50);
  };
  look();
  return () => clearTimeout(timer);
}

function render({ model, el }) {
  el.classList.add("cu-picture");
  const img = document.createElement("img");
  img.className = "cu-img";
  img.hidden = true;
  el.appendChild(img);
  let live = null, liveTimer = null;
  if (model.get("live")) {
    live = document.createElement("div");
    live.className = "cu-live";
    live.setAttribute("role", "status");
    live.setAttribute("aria-live", "polite");
    live.setAttribute("aria-atomic", "true");
    live.textContent = model.get("announcement");
    el.appendChild(live);
  }
  let url = null;
  const showPng = () => {
    const value = model.get("png");
    const old = url;
    if (value && value.byteLength) {
      url = URL.createObjectURL(new Blob([value], {type: "image/png"}));
      img.src = url;
      img.hidden = false;
    } else {
      url = null;
      img.removeAttribute("src");
      img.hidden = true;
    }
    if (old) URL.revokeObjectURL(old);
  };
  const showAlt = () => { img.alt = model.get("alt"); };
  const showWidth = () => {
    const width = model.get("width");
    img.style.width = width > 0 ? `${width}px` : "";
  };
  const announce = () => {
    if (!live) return;
    clearTimeout(liveTimer);
    liveTimer = setTimeout(() => {
      const text = model.get("announcement");
      if (live.textContent !== text) live.textContent = text;
    }, LIVE_DELAY_MS);
  };
  const onClick = (event) => {
    if (!model.get("clickable") || img.hidden) return;
    const box = img.getBoundingClientRect();
    if (box.width <= 0 || box.height <= 0) return;
    model.send({event: "click", x: (event.clientX - box.left) / box.width, y: (event.clientY - box.top) / box.height});
  };
  const showClickable = () => img.classList.toggle("cu-clickable", !!model.get("clickable"));
  showPng(); showAlt(); showWidth(); showClickable();
  model.on("change:png", showPng);
  model.on("change:alt", showAlt);
  model.on("change:width", showWidth);
  model.on("change:announcement", announce);
  model.on("change:clickable", showClickable);
  img.addEventListener("click", onClick);

  let controls = null;
  const stopLooking = whenInExplorer(el, (root) => {
    const selector = model.get("described_by");
    const described = selector ? root.querySelector(selector) : null;
    if (described) img.setAttribute("aria-describedby", ensureId(described, "cu-desc"));
    if (model.get("fix_controls")) controls = installControlFixes(root);
  });
  return () => {
    stopLooking();
    clearTimeout(liveTimer);
    if (url) URL.revokeObjectURL(url);
    if (controls) controls.release();
    model.off("change:png", showPng);
    model.off("change:alt", showAlt);
    model.off("change:width", showWidth);
    model.off("change:announcement", announce);
    model.off("change:clickable", showClickable);
  };
}

export default { render };
