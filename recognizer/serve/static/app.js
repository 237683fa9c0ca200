// The page talks to the same API as every client: GET /v1/model, POST /v1/recognize (multipart).
const drop = document.getElementById("drop");
const results = document.getElementById("results");
const statusLine = document.getElementById("status");
let bands = { high: 0.9, low: 0.3 };

async function describeModel() {
  const response = await fetch("/v1/model");
  const body = await response.json();
  if (!response.ok) { document.getElementById("model").textContent = body.error.message; return; }
  bands = body.bands;
  document.getElementById("model").textContent =
    `${body.preset} model (${body.kind}), ${body.charset_size} characters, sha256 ${body.sha256.slice(0, 12)}`;
  const select = document.getElementById("lexicon");
  for (const name of body.lexicons) { const option = document.createElement("option"); option.value = name; option.textContent = name; select.append(option); }
}

function options() {
  const chosen = {};
  if (document.getElementById("beam-on").checked) chosen.beam = Number(document.getElementById("beam").value);
  const topK = Number(document.getElementById("top-k").value);
  if (topK > 0) chosen.top_k = topK;
  const lexicon = document.getElementById("lexicon").value;
  if (lexicon) chosen.lexicon = lexicon;
  const allowed = document.getElementById("allowed").value;
  if (allowed) chosen.allowed = allowed;
  return chosen;
}

function band(confidence) {
  return confidence >= bands.high ? "keep" : confidence >= bands.low ? "check" : "drop";
}

function show(file, answer) {
  const item = document.createElement("li");
  const picture = document.createElement("img");
  picture.src = URL.createObjectURL(file);
  picture.alt = file.name;
  const details = document.createElement("div");
  const kind = band(answer.confidence);
  const colour = { keep: "#3a3", check: "#d90", drop: "#c33" }[kind];
  details.innerHTML = `<div class="text"></div>
    <div class="meta"><span class="band ${kind}">${kind}</span> confidence ${answer.confidence.toFixed(3)}
      (raw ${answer.raw_confidence.toFixed(3)})${answer.lexicon ? `, lexicon: ${answer.lexicon}` : ""}</div>
    <div class="bar"><span style="width:${(answer.confidence * 100).toFixed(1)}%;background:${colour}"></span></div>`;
  details.querySelector(".text").textContent = answer.text === "" ? "∅ (no text)" : answer.text;
  if (answer.alternatives) {
    const alternatives = document.createElement("div");
    alternatives.className = "meta";
    alternatives.textContent = "alternatives: " + answer.alternatives.map(a => `${a.text} (${a.confidence.toFixed(2)})`).join(", ");
    details.append(alternatives);
  }
  item.append(picture, details);
  item.dataset.text = answer.text;
  results.prepend(item);
}

async function recognize(files) {
  const images = [...files].filter(file => file.type.startsWith("image/") || file.name.match(/\.(png|jpe?g|webp|bmp|tiff?|gif)$/i));
  if (!images.length) return;
  const form = new FormData();
  for (const file of images) form.append("files", file, file.name);
  form.append("options", JSON.stringify(options()));
  const headers = {};
  const key = document.getElementById("key").value;
  if (key) headers["Authorization"] = `Bearer ${key}`;
  statusLine.textContent = `reading ${images.length} crop(s)…`;
  statusLine.className = "";
  try {
    const response = await fetch("/v1/recognize", { method: "POST", body: form, headers });
    const body = await response.json();
    if (!response.ok) throw new Error(body.error ? `${body.error.code}: ${body.error.message}` : response.statusText);
    body.results.forEach((answer, index) => show(images[index], answer));
    statusLine.textContent = `read ${images.length} crop(s)`;
  } catch (error) {
    statusLine.textContent = error.message;
    statusLine.className = "error";
  }
}

document.getElementById("files").addEventListener("change", event => recognize(event.target.files));
drop.addEventListener("dragover", event => { event.preventDefault(); drop.classList.add("over"); });
drop.addEventListener("dragleave", () => drop.classList.remove("over"));
drop.addEventListener("drop", event => { event.preventDefault(); drop.classList.remove("over"); recognize(event.dataTransfer.files); });
document.addEventListener("paste", event => {
  const files = [...event.clipboardData.items].filter(item => item.kind === "file").map(item => item.getAsFile());
  recognize(files);
});
describeModel();
