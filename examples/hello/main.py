"""The smallest Sandlot function: `sandlot deploy examples/hello --name hello`."""


def handler(event, context):
    name = (event or {}).get("name", "world")
    print(f"greeting {name} in invocation {context.invocation_id}")
    return {"hello": name}
