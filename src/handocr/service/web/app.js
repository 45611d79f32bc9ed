// handocr web page: send an image to /v1/read, draw the line and word boxes, show the text.
"use strict";
(function () {
  const $ = (id) => document.getElementById(id);
  const form = $("form"), fileInput = $("file"), drop = $("drop"), go = $("go");
  const download = $("download"), statusEl = $("status"), canvas = $("canvas"), textEl = $("text");
  let file = null, result = null;

  function setStatus(message, isError) {
    statusEl.textContent = message;
    statusEl.className = isError ? "error" : "";
  }

  function choose(f) {
    file = f || null;
    go.disabled = !file;
    drop.querySelector("span").textContent = file ? file.name : "Drop an image here or click to choose one";
  }

  fileInput.addEventListener("change", () => choose(fileInput.files[0]));
  ["dragenter", "dragover"].forEach((t) => drop.addEventListener(t, (e) => { e.preventDefault(); drop.classList.add("over"); }));
  ["dragleave", "drop"].forEach((t) => drop.addEventListener(t, (e) => { e.preventDefault(); drop.classList.remove("over"); }));
  drop.addEventListener("drop", (e) => choose(e.dataTransfer.files[0]));

  function colour(confidence) {
    const c = Math.max(0, Math.min(1, confidence));
    return `rgb(${Math.round(230 * (1 - c) + 20 * c)}, ${Math.round(60 * (1 - c) + 160 * c)}, 40)`;
  }

  async function drawOverlay(doc) {
    const page = doc.pages[0];
    if (!page) return;
    canvas.width = page.width;
    canvas.height = page.height;
    const ctx = canvas.getContext("2d");
    ctx.fillStyle = "#fff";
    ctx.fillRect(0, 0, canvas.width, canvas.height);
    if (file.type !== "application/pdf") {
      try {
        const bitmap = await createImageBitmap(file, { imageOrientation: "from-image" });
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

  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    if (!file) return;
    go.disabled = true;
    download.disabled = true;
    setStatus("Reading…");
    const body = new FormData();
    body.append("file", file, file.name);
    const headers = {};
    const key = $("key").value.trim();
    if (key) headers["X-API-Key"] = key;
    try {
      const response = await fetch("v1/read", { method: "POST", body, headers });
      const data = await response.json();
      if (!response.ok) {
        setStatus(`${data.status || response.status} ${data.title || "Error"}: ${data.detail || ""}`, true);
        return;
      }
      result = data;
      textEl.textContent = data.pages.map(pageText).join("\n\f\n");
      await drawOverlay(data);
      const lines = data.pages.reduce((n, p) => n + p.lines.length, 0);
      setStatus(`${data.pages.length} page(s), ${lines} line(s)`);
      download.disabled = false;
    } catch (err) {
      setStatus(`Request failed: ${err}`, true);
    } finally {
      go.disabled = !file;
    }
  });

  download.addEventListener("click", () => {
    if (!result) return;
    const blob = new Blob([JSON.stringify(result, null, 2)], { type: "application/json" });
    const a = document.createElement("a");
    a.href = URL.createObjectURL(blob);
    a.download = (file ? file.name.replace(/\.[^.]+$/, "") : "result") + ".json";
    a.click();
    URL.revokeObjectURL(a.href);
  });
})();
