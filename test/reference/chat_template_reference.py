"""transformers' rendering of the first Korean Q&A pair with the fixture templates (chat_template.jinja
in copies of test/fixtures/hf-llama/{qwen2,llama}) and its ids: test/fixtures/sft/reference.json.

usage (from the repository root): chat_template_reference.py > test/fixtures/sft/reference.json
"""
import json, shutil, tempfile, os
from transformers import AutoTokenizer

out = {}
for fam,tpl in [('qwen2','chatml.jinja'),('llama','llama3.jinja')]:
    d=tempfile.mkdtemp()
    for f in ['tokenizer.json','tokenizer_config.json']: shutil.copy(f'test/fixtures/hf-llama/{fam}/{f}',d)
    shutil.copy(f'test/fixtures/sft/{tpl}', os.path.join(d,'chat_template.jinja'))
    tok=AutoTokenizer.from_pretrained(d)
    msgs=json.loads(open('test/fixtures/sft/constitution-qa-ko.jsonl').readline())['messages']
    text=tok.apply_chat_template(msgs,tokenize=False)
    pre=tok.apply_chat_template(msgs[:1],tokenize=False,add_generation_prompt=True)
    out[fam] = (({'fam':fam,'text':text,'prompt':pre,'ids':tok(text,add_special_tokens=False)['input_ids']}))
print(json.dumps(out, ensure_ascii=False, indent=1))
