"""Pure model step rate on random batches (no data loading): is the trainer GPU-bound or overhead-bound?"""
import time, torch, torch.nn.functional as F
from recognizer.model import build_model, model_config
dev = torch.device("cuda")
for preset in ("small", "base"):
    for batch, width in ((256, 160), (1024, 160)):
        model = build_model(model_config(preset, 100)).to(dev, memory_format=torch.channels_last)
        opt = torch.optim.AdamW(model.parameters(), 1e-3)
        x = torch.randn(batch, 1, 32, width, device=dev).contiguous(memory_format=torch.channels_last)
        y = torch.randint(1, 100, (batch * 8,))
        lengths = torch.full((batch,), 8, dtype=torch.int64)
        def step(sync):
            with torch.autocast("cuda", dtype=torch.bfloat16):
                logits = model(x)
            lp = logits.float().log_softmax(2).transpose(0, 1)
            loss = F.ctc_loss(lp, y.to(dev), torch.full((batch,), logits.shape[1], dtype=torch.int64), lengths, zero_infinity=True)
            opt.zero_grad(set_to_none=True); loss.backward(); opt.step()
            if sync: float(loss)
        for _ in range(10): step(True)
        for sync in (True, False):
            torch.cuda.synchronize(); t = time.perf_counter()
            for _ in range(40): step(sync)
            torch.cuda.synchronize(); s = (time.perf_counter() - t) / 40
            print(f"{preset:5} batch {batch:5} width {width}: {s*1000:6.1f} ms/step, {batch/s:8.0f} samples/s ({'sync' if sync else 'no sync'} per step)", flush=True)
