# kwire/json renders through nlohmann/json.
find_package(nlohmann_json REQUIRED)
set(extra_libs nlohmann_json::nlohmann_json)
