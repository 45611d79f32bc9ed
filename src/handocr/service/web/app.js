// handocr web page: send an image to /v1/read, draw the line and word boxes, show the text, and
// offer the result as JSON (the Document already received) or ALTO (the same image read with ?format=alto).
// The language list comes from /readyz (the recognizer's languages); "auto" sends no ?language=.
"use strict";
(function () {
  const $ = (id) => document.getElementById(id);
  const form = $("form"), fileInput = $("file"), drop = $("drop"), go = $("go");
  const downloadJson = $("download"), downloadAlto = $("download-alto");
  const statusEl = $("status"), canvas = $("canvas"), textEl = $("text"), languageEl = $("language");
  let file = null; // the file chosen now
  let result = null, resultFile = null, resultLanguage = "", summary = ""; // the last Document, what it was read from
  let busy = false;

  function setStatus(message, isError) {
    statusEl.textContent = message;
    statusEl.className = isError ? "error" : "";
  }

  function refreshButtons() {
    go.disabled = busy || !file;
    downloadJson.disabled = busy || !result;
    downloadAlto.disabled = busy || !result;
  }

  function choose(f) {
    file = f || null;
    drop.querySelector("span").textContent = file ? file.name : "Drop an image here or click to choose one";
    refreshButtons();
  }

  // The recognizer's languages, once the models are ready (the list stays "auto" only otherwise).
  fetch("readyz").then((r) => (r.ok ? r.json() : null)).then((ready) => {
    const codes = (ready && ready.languages) || [];
    if (!codes.length) return;
    ["any", ...codes].forEach((code) => {
      const option = document.createElement("option");
      option.value = code;
      option.textContent = code === "any" ? "any: the general decoder" : code;
      languageEl.appendChild(option);
    });
  }).catch(() => { /* not ready: auto only */ });

  fileInput.addEventListener("change", () => choose(fileInput.files[0]));
  drop.addEventListener("keydown", (e) => {
    if (e.key === "Enter" || e.key === " ") { e.preventDefault(); fileInput.click(); }
  });
  ["dragenter", "dragover"].forEach((t) => drop.addEventListener(t, (e) => { e.preventDefault(); drop.classList.add("over"); }));
  ["dragleave", "drop"].forEach((t) => drop.addEventListener(t, (e) => { e.preventDefault(); drop.classList.remove("over"); }));
  drop.addEventListener("drop", (e) => { if (e.dataTransfer.files.length) choose(e.dataTransfer.files[0]); });

  function colour(confidence) {
    const c = Math.max(0, Math.min(1, confidence));
    return `rgb(${Math.round(230 * (1 - c) + 20 * c)}, ${Math.round(60 * (1 - c) + 160 * c)}, 40)`;
  }

  async function drawOverlay(doc, image) {
    const page = doc.pages[0];
    if (!page) return;
    canvas.width = page.width;
    canvas.height = page.height;
    const ctx = canvas.getContext("2d");
    ctx.fillStyle = "#fff";
    ctx.fillRect(0, 0, canvas.width, canvas.height);
    if (image.type !== "application/pdf") {
      try {
        const bitmap = await createImageBitmap(image, { imageOrientation: "from-image" });
        ctx.drawImage(bitmap, 0, 0, page.width, page.height);
      } catch (e) { /* TIFF and some formats cannot be drawn by the browser: boxes only */ }
    }
    const width = Math.max(2, Math.round(Math.min(page.width, page.height) / 400));
    page.lines.forEach((line) => {
      ctx.strokeStyle = colour(line.confidence);
      ctx.lineWidth = width;
      ctx.strokeRect(line.box[0], line.box[1], line.box[2] - line.box[0], line.box[3] - line.box[1]);
      ctx.lineWidth = 1;
      ctx.strokeStyle = "rgba(40, 90, 200, 0.6)";
      line.words.forEach((w) => ctx.strokeRect(w.box[0], w.box[1], w.box[2] - w.box[0], w.box[3] - w.box[1]));
    });
  }

  function pageText(page) {
    if (!page.paragraphs.length) return page.lines.map((l) => l.text).join("\n");
    return page.paragraphs.map((p) => p.lines.map((i) => page.lines[i].text).join("\n")).join("\n\n");
  }

  // POST one image to /v1/read (the Document as JSON, or ?format=...), in the language if one is
  // chosen, with the API key if one is given.
  function post(image, language, format) {
    const body = new FormData();
    body.append("file", image, image.name);
    const headers = {};
    const key = $("key").value.trim();
    if (key) headers["X-API-Key"] = key;
    const query = new URLSearchParams();
    if (format) query.set("format", format);
    if (language) query.set("language", language);
    const url = query.toString() ? `v1/read?${query}` : "v1/read";
    return fetch(url, { method: "POST", body, headers });
  }

  // One line for a failed response: the problem's status, title and detail, or the bare HTTP status.
  async function failure(response) {
    try {
      const problem = await response.json();
      return `${problem.status || response.status} ${problem.title || "Error"}: ${problem.detail || ""}`;
    } catch (e) {
      return `${response.status} ${response.statusText || "Error"}`;
    }
  }

  function save(blob, name) {
    const url = URL.createObjectURL(blob);
    const a = document.createElement("a");
    a.href = url;
    a.download = name;
    document.body.appendChild(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(url), 10000); // not at once: the download may not have started
  }

  function stem() {
    return (resultFile && resultFile.name.replace(/\.[^.]+$/, "")) || "result";
  }

  async function work(message, task) {
    busy = true;
    refreshButtons();
    setStatus(message);
    try {
      await task();
    } catch (err) {
      setStatus(`Request failed: ${err}`, true);
    } finally {
      busy = false;
      refreshButtons();
    }
  }

  form.addEventListener("submit", (e) => {
    e.preventDefault();
    if (!file || busy) return;
    const image = file, language = languageEl.value;
    work("Reading…", async () => {
      const response = await post(image, language);
      if (!response.ok) {
        setStatus(await failure(response), true);
        return;
      }
      const data = await response.json();
      result = data;
      resultFile = image;
      resultLanguage = language;
      textEl.textContent = data.pages.map(pageText).join("\n\f\n");
      await drawOverlay(data, image);
      const lines = data.pages.reduce((n, p) => n + p.lines.length, 0);
      const read = [...new Set(data.pages.map((p) => p.language).filter((code) => code))];
      summary = `${data.pages.length} page(s), ${lines} line(s)` + (read.length ? `, read as ${read.join(", ")}` : "");
      setStatus(summary);
    });
  });

  downloadJson.addEventListener("click", () => {
    if (!result) return;
    save(new Blob([JSON.stringify(result, null, 2)], { type: "application/json" }), `${stem()}.json`);
  });

  downloadAlto.addEventListener("click", () => {
    if (!result || busy) return;
    work("Exporting ALTO…", async () => {
      const response = await post(resultFile, resultLanguage, "alto");
      if (!response.ok) {
        setStatus(await failure(response), true);
        return;
      }
      save(await response.blob(), `${stem()}.alto.xml`);
      setStatus(summary);
    });
  });
})();
