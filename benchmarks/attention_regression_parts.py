"""Per-part CPU seconds of the attention_regression stage, and its tables (printed).
Usage: python benchmarks/attention_regression_parts.py [override.yaml] [part,part,...]
(override: a YAML with an attention_regression section merged over config/config.yaml)."""
import sys, time, yaml, copy, torch
torch.set_num_threads(1)
from ols_transformer.experiments import attention_regression as exp
from ols_transformer.config import attention_regression_parts
c=yaml.safe_load(open('config/config.yaml'))['attention_regression']
if len(sys.argv)>1 and sys.argv[1]:
    q=yaml.safe_load(open(sys.argv[1]))['attention_regression']
    for k,v in q.items():
        if isinstance(v,dict): c[k]={**c[k],**v}
        else: c[k]=v
parts=attention_regression_parts(c)
if len(sys.argv)>2: parts=[p for p in parts if p in sys.argv[2].split(",")]
pieces=[]; T=time.process_time()
for p in parts:
    t=time.process_time(); pieces.append(exp.run_part(c,p)); print(p, f"{time.process_time()-t:.1f}s", flush=True)
print("total", time.process_time()-T)
out=exp.gather(c,pieces)
import pandas as pd; pd.set_option("display.width",200); pd.set_option("display.max_columns",20)
for k,v in out.items(): print(k); print(v.to_string()[:3000])
