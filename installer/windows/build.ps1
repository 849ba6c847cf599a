# Builds the Windows bundle (dist\kodomo-desktop\, the same PyInstaller spec as Linux) and the per-user installer
# (dist\kodomo-desktop-setup-<version>.exe, Inno Setup 6). Needs Python 3.11+ (python.org or the Store) and, for
# the installer, Inno Setup 6 (ISCC.exe; `choco install innosetup` or the installer from its site). No admin rights.
#   powershell -ExecutionPolicy Bypass -File installer\windows\build.ps1
# Then check it:   $env:QT_QPA_PLATFORM="offscreen"; dist\kodomo-desktop\kodomo-desktop.exe --self-test
$ErrorActionPreference = "Stop"
Set-Location (Resolve-Path (Join-Path $PSScriptRoot "..\.."))

function Invoke-Checked {
    param([string]$Exe, [Parameter(ValueFromRemainingArguments = $true)][string[]]$Rest)
    & $Exe @Rest
    if ($LASTEXITCODE -ne 0) { throw "$Exe $($Rest -join ' ') failed with exit code $LASTEXITCODE" }
}

$py = if ($env:PYTHON) { $env:PYTHON } else { "python" }
if (-not (Test-Path ".venv\Scripts\python.exe")) { Invoke-Checked $py -m venv .venv }
$vpy = (Resolve-Path ".venv\Scripts\python.exe").Path
Invoke-Checked $vpy -m pip install -q --disable-pip-version-check -e ".[bundle]"

# The icon of the executables, the Start-menu entries and the installer, drawn from the app's SVG by Qt.
$env:QT_QPA_PLATFORM = "offscreen"
Invoke-Checked $vpy installer\windows\make_icon.py installer\windows\kodomo-desktop.ico
Remove-Item Env:\QT_QPA_PLATFORM

$sw = [Diagnostics.Stopwatch]::StartNew()
Invoke-Checked $vpy -m PyInstaller --noconfirm --clean --log-level WARN `
    --distpath dist --workpath build\pyinstaller installer\kodomo-desktop.spec
Write-Host ("dist\kodomo-desktop\ built in {0:N0} s" -f $sw.Elapsed.TotalSeconds)

$version = (& $vpy -c "import importlib.metadata as m; print(m.version('kodomo-desktop'))").Trim()
$iscc = (Get-Command iscc.exe -ErrorAction SilentlyContinue).Source
if (-not $iscc) {
    foreach ($d in @("${env:ProgramFiles(x86)}\Inno Setup 6", "$env:ProgramFiles\Inno Setup 6", "$env:LOCALAPPDATA\Programs\Inno Setup 6")) {
        if (Test-Path "$d\ISCC.exe") { $iscc = "$d\ISCC.exe"; break }
    }
}
if (-not $iscc) {
    Write-Warning "Inno Setup 6 (ISCC.exe) not found: the bundle is in dist\kodomo-desktop\, no installer made."
    exit 0
}
Invoke-Checked $iscc /Q "/DAppVersion=$version" installer\windows\kodomo-desktop.iss
Write-Host "dist\kodomo-desktop-setup-$version.exe"
